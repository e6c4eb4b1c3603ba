import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'

export type Role = 'customer' | 'technician' | 'moderator' | 'admin'
export type Shift = 'day' | 'evening' | 'night'
export type ThreadStatus = 'investigating' | 'identified' | 'monitoring' | 'resolved'
export type PostKind = 'update' | 'handover' | 'comment'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
type Json<T> = ColumnType<T, string, string>

export interface UsersTable {
  id: Generated<number>
  email: string
  name: string
  role: Role
  shift: Shift | null
  password_hash: string
  locale: 'en' | 'fr' | null
  created_at: Timestamp
  /** Set once its owner followed the link sent to it: only then is it written to about incidents. */
  email_confirmed_at: NullableTimestamp
  confirm_mailed_at: NullableTimestamp
  /** When its mail server refused it as a recipient; cleared when it is confirmed again. */
  email_refused_at: NullableTimestamp
  /** When a link to choose a new password was last sent to it. */
  reset_mailed_at: NullableTimestamp
}

export interface SessionsTable {
  id: string
  user_id: number
  created_at: Timestamp
  last_seen_at: Timestamp
}

export interface ApiTokensTable {
  id: Generated<number>
  user_id: number
  token_hash: string
  /** What the token is for, in the words of the admin who made it. */
  label: ColumnType<string | null, string | null | undefined, string | null>
  created_at: Timestamp
  last_used_at: NullableTimestamp
  revoked_at: NullableTimestamp
}

export interface ThreadsTable {
  id: Generated<number>
  title: string
  status: ThreadStatus
  locked: Generated<boolean>
  pinned_post_id: number | null
  next_update_at: NullableTimestamp
  slow_mode_seconds: Generated<number>
  crisis_mode: Generated<boolean>
  /** While in crisis mode, customers may only read. */
  crisis_read_only: Generated<boolean>
  /** Minutes after an official update that promised nothing, before the next one is due. */
  cadence_minutes: number | null
  /** The promise the on-duty staff were last alerted about. */
  alerted_for: NullableTimestamp
  last_post_at: NullableTimestamp
  post_count: Generated<number>
  last_seq: Generated<number>
  /** The latest official post (update or handover), 0 before the first: what its followers are due. */
  last_official_post_id: Generated<number>
  created_by: number
  created_at: Timestamp
}

export interface PostsTable {
  id: Generated<number>
  thread_id: number
  author_id: number
  kind: PostKind
  body: string
  html: string
  shift: Shift | null
  /** A handover's incoming shift. */
  handover_to: Shift | null
  reply_to: number | null
  status: ThreadStatus | null
  next_update_at: NullableTimestamp
  created_at: Timestamp
  edited_at: NullableTimestamp
  hidden_at: NullableTimestamp
  hidden_by: number | null
  hidden_reason: string | null
  /** The update that answers this question. */
  answered_by: Generated<number | null>
}

export interface PostRevisionsTable {
  id: Generated<number>
  post_id: number
  body: string
  html: string
  edited_by: number
  created_at: Timestamp
}

export interface ThreadEventsTable {
  thread_id: number
  seq: number
  type: string
  payload: Json<unknown>
  created_at: Timestamp
}

export interface IdempotencyKeysTable {
  user_id: number
  key: string
  request_hash: string
  status_code: number | null
  response: ColumnType<unknown, string | null, string>
  created_at: Timestamp
}

export interface AuditLogTable {
  id: Generated<number>
  /** Null for the server's operator, at the command line. */
  actor_id: number | null
  action: string
  thread_id: number | null
  post_id: number | null
  target_user_id: number | null
  before: ColumnType<unknown, string | null, string | null>
  after: ColumnType<unknown, string | null, string | null>
  reason: string | null
  created_at: Timestamp
}

export interface ShiftScheduleTable {
  id: Generated<number>
  day_start: number
  evening_start: number
  night_start: number
  updated_at: Timestamp
}

export interface DutyTable {
  id: Generated<number>
  user_id: number
  shift: Shift | null
  lead: Generated<boolean>
  started_at: Timestamp
  /** When the check-in ends by itself, unless made again. */
  lapses_at: Timestamp
  ended_at: NullableTimestamp
}

/** Who led, from when to when: a check-in's spells as the shift lead. */
export interface DutyLeadsTable {
  id: Generated<number>
  duty_id: number
  started_at: Timestamp
  /** Open while it leads; a lead whose check-in ended or lapsed unclosed ends with it. */
  ended_at: NullableTimestamp
}

export type FlagReason = 'spam' | 'rumour' | 'abusive'

export interface PinsTable {
  id: Generated<number>
  thread_id: number
  post_id: number
  pinned_by: number
  pinned_at: Timestamp
  unpinned_at: NullableTimestamp
}

export interface FlagsTable {
  id: Generated<number>
  post_id: number
  user_id: number
  reason: FlagReason
  created_at: Timestamp
  resolved_at: NullableTimestamp
  resolved_by: number | null
  resolution: 'hidden' | 'dismissed' | null
}

export interface SubscriptionsTable {
  user_id: number
  thread_id: number
  created_at: Timestamp
  /** The last post id sent to this follower, or there before they followed. */
  mailed_through: ColumnType<number, number | undefined, number>
  /** The mail pass holding the follow, and until when. */
  claimed_by: string | null
  claimed_until: NullableTimestamp
  /** When the follower was last e-mailed about the thread; null: never. */
  mailed_at: NullableTimestamp
}

export interface Database {
  users: UsersTable
  sessions: SessionsTable
  api_tokens: ApiTokensTable
  threads: ThreadsTable
  posts: PostsTable
  post_revisions: PostRevisionsTable
  thread_events: ThreadEventsTable
  idempotency_keys: IdempotencyKeysTable
  audit_log: AuditLogTable
  pins: PinsTable
  flags: FlagsTable
  subscriptions: SubscriptionsTable
  shift_schedule: ShiftScheduleTable
  duty: DutyTable
  duty_leads: DutyLeadsTable
}

export type UserRow = Selectable<UsersTable>
export type ThreadRow = Selectable<ThreadsTable>
export type PostRow = Selectable<PostsTable>
export type NewPost = Insertable<PostsTable>
