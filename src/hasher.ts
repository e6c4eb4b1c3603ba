// The password-hashing process: Argon2id for the server (or the command line)
// that started it, over its IPC channel, at a lower CPU priority. It ends when
// its parent does.
import argon2 from 'argon2'
import { type HashReply, type HashRequest, HASH_OPTIONS, HASHES_AT_ONCE } from './domain/passwords.ts'

process.on('disconnect', () => process.exit(0))

// Its parent may have gone meanwhile (a server stopped while this one was
// starting): then there is nobody to answer, and this process ends.
const reply = (message: HashReply) => {
  process.send!(message, undefined, {}, (err: Error | null) => { if (err !== null) process.exit(0) })
}

process.on('message', (request: HashRequest) => {
  const work = request.op === 'hash'
    ? argon2.hash(request.password, HASH_OPTIONS)
    : argon2.verify(request.hash, request.password).catch(() => false)
  work.then(
    (value) => reply({ id: request.id, value }),
    (err: unknown) => reply({ id: request.id, error: err instanceof Error ? err.message : String(err) })
  )
})
// For a server (`--warm`): each thread's first two hashes fault in its 19 MiB
// (first mapped apart, then in the thread's own heap, where it stays), paid
// here, at start, and not by the first sign-ins, which may be a flood's. A
// command that hashes once would only wait longer.
const warmRounds = process.argv.includes('--warm') ? 2 : 0
for (let round = 0; round < warmRounds; round++) {
  await Promise.all(Array.from({ length: HASHES_AT_ONCE }, () => argon2.hash('warming up', HASH_OPTIONS)))
}
reply({ id: 0, value: 'ready' })
