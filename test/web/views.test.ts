import t from 'tap'
import type { Post } from '../../src/domain/views.ts'
import { VIEWS_DIR, loadViews } from '../../src/web/views.ts'

const views = loadViews(VIEWS_DIR, { timeZone: 'Europe/Paris' })

const post: Post = {
  id: 42,
  threadId: 7,
  kind: 'update',
  body: 'Power is back.',
  html: '<p>Power is <strong>back</strong>.</p>',
  author: { id: 3, name: 'Élise <Martin>', role: 'technician' },
  shift: 'evening',
  handoverTo: null,
  replyTo: 40,
  createdAt: '2026-11-25T13:15:00.000Z',
  editedAt: null,
  hidden: false,
  hiddenReason: null,
  status: 'monitoring',
  nextUpdateAt: '2026-11-25T13:45:00.000Z',
  answeredBy: null
}

t.test('a post renders alone, as the live stream sends it', async (t) => {
  const html = views.partial('post', { post, locale: 'en' })
  t.match(html, /^\s*<article class="post post--update" id="p-42" data-post-id="42" data-kind="update">/)
  t.match(html, /<time datetime="2026-11-25T13:15:00.000Z" title="Wednesday,? 25 November 2026 at 14:15 CET">25 Nov 2026, 14:15<\/time>/,
    'in the organisation\'s time zone, with the ISO value and the full date, to the minute')
  t.match(html, /Élise &lt;Martin&gt;/, 'names are escaped')
  t.match(html, /<p>Power is <strong>back<\/strong>\.<\/p>/, 'the sanitised HTML is kept')
  t.match(html, /Evening shift/)
  t.match(html, /<a href="\/posts\/40">in reply to #40<\/a>/)
  t.match(html, /Next update by <time datetime="2026-11-25T13:45:00.000Z"[^>]*>14:45<\/time>/, 'the promise, by the clock on the same day')
  t.notMatch(html, /<form|post__actions/, 'no actions without a viewer')
})

t.test('in French, with French dates', async (t) => {
  const html = views.partial('post', { post: { ...post, nextUpdateAt: '2026-11-26T08:00:00.000Z' }, locale: 'fr' })
  t.match(html, />25 nov\. 2026, 14:15<\/time>/)
  t.match(html, /title="mercredi 25 novembre 2026 à 14:15 UTC\+1"/, 'the full date in French, to the minute')
  t.match(html, /Point de situation/)
  t.match(html, /Technicien/)
  t.match(html, /Équipe du soir/)
  t.match(html, /Sous surveillance/)
  t.match(html, /en réponse au n°\u00a040/)
  t.match(html, /Prochain point\u00a0: <time[^>]*>26 nov\. 2026, 09:00<\/time>/, 'a promise on another day names the day')
})

t.test('a hidden post shows its reason, not its text, when given without it', async (t) => {
  const { body: _body, html: _html, ...rest } = post
  const html = views.partial('post', { post: { ...rest, kind: 'comment', hidden: true, hiddenReason: 'Off <topic>' }, locale: 'en' })
  t.match(html, /class="post post--comment post--hidden"/)
  t.match(html, /Hidden by a moderator: <bdi>Off &lt;topic&gt;<\/bdi>/)
  t.notMatch(html, /Power is/)
})

t.test('messages keep their words escaped and their helpers\' markup', async (t) => {
  const page = views.page('error', { locale: 'fr', title: 'Un <problème>', message: '<b>bad</b>', statusCode: 400, languages: [] })
  t.match(page, /<html lang="fr">/)
  t.match(page, /&lt;b&gt;bad&lt;\/b&gt;/)
  t.match(page, /<h1>Un &lt;problème&gt;<\/h1>/)
})

t.test('durations read as people say them: no "0 min" nor "0 h" left over', async (t) => {
  const overdue = (minutes: number, locale: 'en' | 'fr') => views.partial('thread-state', {
    thread: { id: 7, title: 'x', status: 'identified', locked: false, slowModeSeconds: 0 }, locale, now: '2026-11-25T13:00:00.000Z',
    promise: { at: '2026-11-25T12:00:00.000Z', overdue: true, minutes }
  })
  t.match(overdue(65, 'en'), /overdue by 1 h 5 min/)
  t.match(overdue(60, 'en'), /overdue by 1 h \(/)
  t.match(overdue(60, 'fr'), /en retard de 1\u00a0h \(/)
  t.match(overdue(1440, 'en'), /overdue by 1 d \(/)
  t.match(overdue(1440, 'fr'), /en retard de 1\u00a0j \(/)
  t.match(overdue(1500, 'en'), /overdue by 1 d 1 h \(/)
})

t.test('the thread state and the current state render alone too', async (t) => {
  const thread = { id: 7, title: 'x', status: 'identified', locked: true, slowModeSeconds: 0 }
  const state = views.partial('thread-state', {
    thread, locale: 'fr', onDuty: { shift: 'night', changes: 'day@2026-11-26T07:00:00.000Z' }, now: '2026-11-25T13:00:00.000Z',
    promise: { at: '2026-11-25T13:10:00.000Z', overdue: true, minutes: 5 }
  })
  t.match(state, /^\s*<div class="thread__state" id="thread-state">/)
  t.match(state, /Cause identifiée/)
  t.match(state, /Verrouillé/)
  t.match(state, /Point en retard de 5\u00a0min \(prévu\u00a0: <time[^>]*>14:10<\/time>\)/)
  t.match(state, /Prévue à cette heure\u00a0: Équipe de nuit/)
  const current = views.partial('current-state', { pinned: post, locale: 'en' })
  t.match(current, /^\s*<section class="current-state" id="current-state"/)
  t.match(current, /data-post-id="42"/)
  t.notMatch(current, /id="p-42"/, 'the pinned copy leaves the post\'s id to the list')
})
