import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { setTimeout as delay } from 'node:timers/promises'
import { CUSTOMERS_SHOWN, type GivenLink, addUser, changeUser, createTokenFor, findUsers, listStaff, listTokens, passwordLinkFor, revokeToken } from '../../../domain/admin.ts'
import { AppError } from '../../../domain/errors.ts'
import { resetLinks } from '../../../domain/password-reset.ts'
import { SHIFTS } from '../../../domain/shifts.ts'
import { LABEL_MAX, tokenKey } from '../../../domain/tokens.ts'
import { ROLES } from '../../../domain/users.ts'
import { givenLinkMail } from '../../../mail/password.ts'
import { translate } from '../../i18n.ts'
import { csrfToken } from '../../plugins/app/auth.ts'
import { type Form, field, formIdempotency, isFormError, messageOf, newFormKey, optionalId, parseId } from './shared.ts'

interface IdParam { id: string }

/** The field of the "Add a person" form a refusal is about: it is marked, and takes the focus. */
type AddField = 'name' | 'email' | 'role' | 'shift'
const ADD_FIELD: Partial<Record<string, AddField>> = {
  invalid_name: 'name',
  invalid_email: 'email',
  email_taken: 'email',
  invalid_role: 'role',
  invalid_shift: 'shift',
  shift_required: 'shift',
  shift_for_technicians: 'shift'
}

/**
 * A link to choose a password, given by an admin: shown once, on the answer,
 * and e-mailed when the forum sends e-mail; none (`url` undefined) when the
 * same form comes again and its link no longer works: used, or expired. `mail` says
 * what became of its e-mail, as far as the answer knows: taken by the mail
 * server, refused, not answered yet, given before (the same form again), or
 * none (a forum that sends no e-mail).
 */
interface Given { newAccount: boolean, name: string, email: string, url: string | undefined, mail: 'sent' | 'failed' | 'slow' | 'before' | 'none' }

/** How long an admin's answer waits for the mail server to take the link's e-mail before saying it is on its way. */
const MAIL_WAIT_MS = 5_000

/** The admins' pages: users and roles, API tokens. */
const adminPages: FastifyPluginAsync = async (fastify) => {
  const { db, config } = fastify
  const links = resetLinks(config.sessionSecret)

  const signInFirst = (request: FastifyRequest, reply: FastifyReply) => reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303)

  /** The users' table; a refused change is said on its row, with what the admin chose kept. */
  const showUsers = async (
    request: FastifyRequest,
    reply: FastifyReply,
    search: string,
    refused?: { userId: number, role: string, shift: string, error: string },
    extras: { given?: Given, add?: { form: Form, error: string, wrong: AddField | undefined } } = {}
  ) => {
    const found = await findUsers(db, request.actor, search)
    const { given, add } = extras
    const addRole = field(add?.form, 'role') || 'customer'
    const addShift = field(add?.form, 'shift')
    const users = [...found.staff, ...found.customers]
    // Back from a change (?changed=id): it says whose, and what they are now.
    const changedId = refused === undefined ? optionalId((request.query as Record<string, unknown>).changed) : undefined
    const changed = users.find((user) => user.id === changedId)
    return reply.page('admin-users', {
      title: translate(request.locale, 'admin.users.title'),
      here: '/admin/users',
      csrf: csrfToken(request, reply),
      search,
      more: found.more,
      shown: CUSTOMERS_SHOWN,
      users: users.map((user) => {
        const chosen = refused?.userId === user.id ? refused : { role: user.role, shift: user.shift ?? '', error: undefined }
        return {
          user,
          self: user.id === request.actor?.id,
          roles: ROLES.map((role) => ({ role, selected: role === chosen.role })),
          shifts: SHIFTS.map((shift) => ({ shift, selected: shift === chosen.shift })),
          error: chosen.error
        }
      }),
      refused: refused === undefined ? undefined : { ...refused, name: users.find((user) => user.id === refused.userId)?.name ?? '' },
      given,
      add: {
        name: field(add?.form, 'name'),
        email: field(add?.form, 'email'),
        error: add?.error,
        wrong: add?.wrong,
        roles: ROLES.map((role) => ({ role, selected: role === addRole })),
        shifts: SHIFTS.map((shift) => ({ shift, selected: shift === addShift }))
      },
      mails: fastify.mailer !== null,
      // The forms' key: the same form sent twice (a double click, a reload of the answer) acts once.
      formKey: newFormKey(),
      changed: changed === undefined
        ? undefined
        : {
            id: changed.id,
            name: changed.name,
            role: [translate(request.locale, `role.${changed.role}`), ...(changed.shift === null ? [] : [translate(request.locale, `shift.badge.${changed.shift}`)])].join(', ')
          }
    })
  }

  fastify.get<{ Querystring: { q?: string } }>('/admin/users', async (request, reply) => {
    if (request.actor === null) return signInFirst(request, reply)
    return await showUsers(request, reply, typeof request.query.q === 'string' ? request.query.q : '')
  })

  fastify.post<{ Params: IdParam, Body: Form }>('/admin/users/:id', async (request, reply) => {
    const userId = parseId(request.params.id, 'user')
    const role = field(request.body, 'role')
    const shift = field(request.body, 'shift')
    // Back to the list as it was searched.
    const search = field(request.body, 'q')
    try {
      await changeUser(request.deps, request.actor, userId, { role, shift: role === 'technician' ? (shift || null) : null })
      // An admin who just gave up the role has no page here any more.
      const list = `/admin/users?${new URLSearchParams({ ...(search !== '' && { q: search }), changed: String(userId) }).toString()}`
      return reply.redirect(request.actor?.id === userId && role !== 'admin' ? '/' : `${list}#user-${userId}`, 303)
    } catch (err) {
      if (!isFormError(err) || request.actor === null) throw err
      return await showUsers(request, reply.code(err.statusCode), search, { userId, role, shift, error: messageOf(request.locale, err) })
    }
  })

  /**
   * Makes the link for `given.owner`, and e-mails it when the forum sends
   * e-mail (in their language, else the admin's) and the link is new. The
   * answer waits a few seconds at most for the mail server, and says what
   * became of the e-mail: the admin is shown the link too, to pass it on
   * when the e-mail did not go.
   */
  const give = async (request: FastifyRequest, { owner, givenAt, lifeMs, fresh, spent }: GivenLink, newAccount: boolean): Promise<Given> => {
    const mailer = fastify.mailer
    const shown = { newAccount, name: owner.user.name, email: owner.user.email }
    // The same form sent again once its link was used, or has expired: no link that would not work.
    if (spent) return { ...shown, url: undefined, mail: mailer === null ? 'none' : 'before' }
    const locale = owner.locale ?? request.locale
    const url = `${config.publicUrl}/password/reset/${links.token({ userId: owner.user.id, passwordHash: owner.passwordHash }, givenAt, lifeMs)}?lang=${locale}${newAccount ? '&welcome=1' : ''}`
    if (mailer === null) return { ...shown, url, mail: 'none' }
    if (!fresh) return { ...shown, url, mail: 'before' }
    const sent = mailer.deliver(givenLinkMail({ email: owner.user.email, locale }, url, { newAccount, by: request.actor?.name ?? '', publicUrl: config.publicUrl }))
      .then(() => 'sent' as const, (err: unknown) => {
        fastify.log.warn({ err, userId: owner.user.id }, 'could not send a link to choose a password')
        return 'failed' as const
      })
    return { ...shown, url, mail: await Promise.race([sent, delay(MAIL_WAIT_MS, 'slow' as const, { ref: false })]) }
  }

  fastify.post<{ Body: Form }>('/admin/users', async (request, reply) => {
    const role = field(request.body, 'role')
    const shift = field(request.body, 'shift')
    try {
      // The shift menu is there for every role: it counts for technicians only.
      const input = { email: field(request.body, 'email'), name: field(request.body, 'name'), role, shift: role === 'technician' ? (shift || null) : null }
      const given = await addUser(request.deps, request.actor, input, formIdempotency(request, request.body))
      // The link is on this answer alone: never kept, nor cached.
      return await showUsers(request, reply.header('cache-control', 'no-store'), '', undefined, { given: await give(request, given, true) })
    } catch (err) {
      if (!isFormError(err) || request.actor === null) throw err
      return await showUsers(request, reply.code(err.statusCode), '', undefined, { add: { form: request.body, error: messageOf(request.locale, err), wrong: ADD_FIELD[err.code] } })
    }
  })

  fastify.post<{ Params: IdParam, Body: Form }>('/admin/users/:id/password-link', async (request, reply) => {
    const given = await passwordLinkFor(request.deps, request.actor, parseId(request.params.id, 'user'), formIdempotency(request, request.body))
    return await showUsers(request, reply.header('cache-control', 'no-store'), field(request.body, 'q'), undefined, { given: await give(request, given, false) })
  })

  const showTokens = async (request: FastifyRequest, reply: FastifyReply, extras: { error?: string, form?: Form, created?: { token: string, ownerId: number, label: string | null } } = {}) => {
    const tokens = await listTokens(db, request.actor)
    const { created, form, error } = extras
    // Back from revoking one (?revoked=id): it says which, now that it is.
    const revokedId = optionalId((request.query as Record<string, unknown>).revoked)
    const revoked = tokens.find((token) => token.id === revokedId && token.revokedAt !== null)
    // A refused form comes back as it was sent.
    const chosen = form === undefined ? 0 : optionalId(field(form, 'userId')) ?? 0
    const users = (await listStaff(db, request.actor)).map((user) => ({ ...user, selected: user.id === chosen }))
    return reply.page('admin-tokens', {
      title: translate(request.locale, 'admin.tokens.title'),
      here: '/admin/tokens',
      csrf: csrfToken(request, reply),
      formKey: newFormKey(),
      tokens,
      users,
      label: field(form, 'label'),
      labelMax: LABEL_MAX,
      created: created === undefined ? undefined : { ...created, owner: users.find((user) => user.id === created.ownerId)?.name ?? '' },
      revoked: created === undefined && error === undefined ? revoked : undefined,
      error
    })
  }

  fastify.get('/admin/tokens', async (request, reply) => {
    if (request.actor === null) return signInFirst(request, reply)
    return await showTokens(request, reply)
  })

  fastify.post<{ Body: Form }>('/admin/tokens', async (request, reply) => {
    try {
      const userId = optionalId(field(request.body, 'userId')) ?? 0
      // The form sent again (a reload of this answer) shows the same token, and makes no other.
      const { token, label } = await createTokenFor(request.deps, request.actor, userId, tokenKey(formIdempotency(request, request.body), fastify.config.sessionSecret), field(request.body, 'label'))
      // Shown once, on this answer: only its hash is kept.
      return await showTokens(request, reply.header('cache-control', 'no-store'), { created: { token, ownerId: userId, label } })
    } catch (err) {
      // No owner, or one gone meanwhile, is this form's to say, with what was typed.
      const noOwner = err instanceof AppError && err.messageKey === 'errors.not_found.user'
      if (!(isFormError(err) || noOwner) || request.actor === null) throw err
      return await showTokens(request, reply.code(err.statusCode), { error: messageOf(request.locale, err), form: request.body })
    }
  })

  fastify.post<{ Params: IdParam }>('/admin/tokens/:id/revoke', async (request, reply) => {
    const tokenId = parseId(request.params.id, 'token')
    await revokeToken(request.deps, request.actor, tokenId)
    return reply.redirect(`/admin/tokens?revoked=${tokenId}`, 303)
  })
}

export default adminPages
