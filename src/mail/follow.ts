import type { News, NewsPost } from '../domain/subscriptions.ts'
import { type Locale, isolate, translate } from '../web/i18n.ts'
import { type DateFormatter, dateFormatterFor } from '../web/views.ts'
import { type MailMessage, inSubject } from './deliver.ts'

export interface FollowMailOptions {
  /** PUBLIC_URL, for the links. */
  publicUrl: string
  /** TZ_DISPLAY: times are written by the organisation's clock. */
  timeZone: string
}

/**
 * The official posts of an incident a reader follows, in their language: the
 * state of the incident now, then each post as it was written, then how to
 * stop. Mail clients offer the stop in one click (RFC 8058); they trust it
 * when the relay signs these headers (DKIM), as the README says.
 */
export function newsMail (news: News, stopUrl: string, options: FollowMailOptions): MailMessage {
  const { locale, thread } = news
  const format = dateFormatterFor(options.timeZone)
  // Every update since the last e-mail, the earlier ones left out of it too.
  const count = news.posts.length + news.earlier
  const state = [
    translate(locale, 'mail.follow.status', { status: translate(locale, `status.${thread.status}`) }),
    ...(thread.nextUpdateAt !== null && thread.status !== 'resolved'
      ? [translate(locale, 'mail.follow.next', { time: format(locale, thread.nextUpdateAt, 'full') })]
      : [])
  ]
  const posts = news.posts.map((post) => postText(locale, post, format))
  return {
    to: news.email,
    // Set apart only when it needs it: invisible marks in a subject are read as a spammer's.
    subject: translate(locale, count === 1 ? 'mail.follow.subject.one' : 'mail.follow.subject.other', { title: inSubject(thread.title), count }),
    text: [
      isolate(thread.title),
      state.join('\n'),
      ...(news.earlier > 0 ? [translate(locale, news.earlier === 1 ? 'mail.follow.earlier.one' : 'mail.follow.earlier.other', { count: news.earlier })] : []),
      ...posts,
      translate(locale, 'mail.follow.read', { url: `${options.publicUrl}/t/${thread.id}` }),
      translate(locale, 'mail.follow.why', { url: stopUrl })
    ].join('\n\n'),
    headers: {
      'List-Unsubscribe': `<${stopUrl}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      // One list per incident, for the reader's mail filters.
      'List-Id': `<incident-${thread.id}.${new URL(options.publicUrl).hostname}>`
    }
  }
}

/** A shift's name inside a sentence: "evening shift", "équipe du soir" (the badge's, less its capital). */
function shiftInSentence (locale: Locale, shift: string): string {
  const badge = translate(locale, `shift.badge.${shift}`)
  return badge.charAt(0).toLocaleLowerCase(locale) + badge.slice(1)
}

function postText (locale: Locale, post: NewsPost, format: DateFormatter): string {
  const by = post.shift === null
    ? translate(locale, 'mail.follow.by', { name: isolate(post.authorName) })
    : translate(locale, 'mail.follow.byShift', { name: isolate(post.authorName), shift: shiftInSentence(locale, post.shift) })
  const what = post.kind === 'handover' && post.handoverTo !== null
    ? translate(locale, 'mail.follow.handover', { shift: shiftInSentence(locale, post.handoverTo) })
    : translate(locale, `kind.${post.kind}`)
  const status = post.status === null ? '' : ` · ${translate(locale, `status.${post.status}`)}`
  return `— ${format(locale, post.createdAt, 'full')} · ${what}${status} · ${by}\n${post.body}`
}

/** The link that confirms an address, sent when its owner first follows an incident. */
export function confirmMail (to: { email: string, locale: Locale }, confirmUrl: string, title: string): MailMessage {
  return {
    to: to.email,
    subject: translate(to.locale, 'mail.confirm.subject'),
    text: translate(to.locale, 'mail.confirm.body', { title: isolate(title), url: confirmUrl })
  }
}
