import t from 'tap'
import { failuresOnce } from '../../src/db/connect.ts'

// A task the instance runs again and again (reading the shift schedule every
// 10 s, rendering a kept page again for each reader) fails at every try while
// the database is away: its operator reads one line for the outage, not one
// stack trace per try, and a line when it works again.
t.test('a background task failing again and again is logged once, and again once it has worked', async (t) => {
  const lines: Array<{ level: string, obj?: Record<string, unknown>, msg: string }> = []
  const log = {
    warn: (obj: object, msg: string) => { lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) },
    info: (msg: string) => { lines.push({ level: 'info', msg }) }
  }
  const task = failuresOnce(log, 'read the shift schedule')
  const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
  task.worked()
  t.same(lines, [], 'nothing to say while it works')
  for (let i = 0; i < 5; i++) task.failed(down)
  t.equal(lines.length, 1, 'five failures, one line')
  t.equal(lines[0]!.level, 'warn')
  t.match(lines[0]!.msg, /could not read the shift schedule/)
  t.equal(lines[0]!.obj!.err, 'connect ECONNREFUSED 127.0.0.1:5432', 'the database away, in a word: no stack trace')
  task.worked()
  task.worked()
  t.equal(lines.length, 2, 'back: said once')
  t.same(lines[1], { level: 'info', msg: 'can read the shift schedule again' })
  const bug = new TypeError('cannot read properties of undefined')
  task.failed(bug)
  t.equal(lines.length, 3, 'failing again after it worked is said again')
  t.equal(lines[2]!.obj!.err, bug, 'anything but the database away comes with its stack')
})
