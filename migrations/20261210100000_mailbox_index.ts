import { type Kysely, sql } from 'kysely'

// Frozen in time: this file never imports application code.
const statements = [
  // The mailbox an address delivers to, its "+tag" left out (alice+1@ and
  // alice+2@ are one mailbox): links to confirm an address are counted per
  // mailbox, so accounts made for someone else's cannot flood it.
  `create index users_mailbox on users ((lower(regexp_replace(email, '\\+[^@]*@', '@'))))`
]

export async function up (db: Kysely<any>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop index users_mailbox').execute(db)
}
