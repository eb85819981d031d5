/**
 * Writes docs/deploy/users.acl from `generateAcl()`: the application user (every package, namespace
 * `cache`), a read-only reader, and the infrastructure users that are not packages (operators, replication,
 * Sentinel). `--check` fails when the committed file is stale. Run:
 * `node --conditions=@cache/source --import tsx packages/security/scripts/gen-users-acl.ts`
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { generateAcl } from '../src/acl.js'

/** Where the file lives. */
export const USERS_ACL_PATH = fileURLToPath(new URL('../../../docs/deploy/users.acl', import.meta.url))

/**
 * The users that are not packages. Redis aclfiles have no comments (any line not starting with `user` stops
 * the server from starting), so what each line is for is documented in docs/security.md instead:
 * operators (everything), the replication link (masteruser/masterauth) and Sentinel (auth-user/auth-pass).
 */
const INFRASTRUCTURE = [
  'user ops off resetchannels &* ~* +@all',
  'user replication off resetchannels -@all +psync +replconf +ping',
  'user sentinel off resetchannels &__sentinel__:hello -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill',
]

/**
 * The text of docs/deploy/users.acl: `user default off`, the application (`app`: every package, namespace
 * `cache`), a read-only reader (`app-reader`), then ops, replication and sentinel. Users come without
 * passwords and stay off until one is added (ACL SETUSER app on >secret, or `on #<sha256>` in the file).
 */
export function renderUsersAcl(): string {
  const app = generateAcl({ user: 'app', namespaces: ['cache'] })
  const reader = generateAcl({ user: 'app-reader', namespaces: ['cache'], readOnly: true })
  const line = (file: string) =>
    file.split('\n').find((l) => l.startsWith('user ') && !l.startsWith('user default'))
  return ['user default off', line(app.file), line(reader.file), ...INFRASTRUCTURE, ''].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = renderUsersAcl()
  if (process.argv.includes('--check')) {
    if (readFileSync(USERS_ACL_PATH, 'utf8') !== text) {
      console.error('docs/deploy/users.acl is stale: run packages/security/scripts/gen-users-acl.ts')
      process.exit(1)
    }
  } else {
    writeFileSync(USERS_ACL_PATH, text)
    console.log(`wrote ${USERS_ACL_PATH}`)
  }
}
