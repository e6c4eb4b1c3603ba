import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface Run { code: number | null, stdout: string, stderr: string }

export interface CliPlace {
  /** Where the embedded database lives, when there is no server. */
  dataDir: string
  /** The test's database on the server of DATABASE_URL, if any. */
  databaseUrl: string | undefined
}

/**
 * Runs `npm run sitrep -- ...args` the way npm does, without npm, on the
 * test's database only: whatever DATABASE_URL or SITREP_PASSWORD the test
 * process has is not passed on unless given here.
 */
export function runCli (place: CliPlace, args: string[], options: { input?: string, env?: Record<string, string> } = {}): Promise<Run> {
  // No SESSION_SECRET: the command line signs nothing with it.
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: place.dataDir, LOG_LEVEL: 'silent' }
  delete env.SESSION_SECRET
  delete env.DATABASE_URL
  delete env.SITREP_PASSWORD
  if (place.databaseUrl !== undefined) env.DATABASE_URL = place.databaseUrl
  Object.assign(env, options.env)
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  child.stdin.on('error', () => {})
  child.stdin.end(options.input ?? '')
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
