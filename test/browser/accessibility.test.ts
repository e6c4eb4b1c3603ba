import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Page } from 'playwright-core'
import type { Thread } from '../../src/domain/views.ts'
import { makeUser } from '../helpers/app.ts'
import { browserAvailable, startSite } from '../helpers/browser.ts'
import { apiAs } from '../helpers/pages.ts'

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js')
/** Where the screenshots go, to be looked at by a person (git-ignored). */
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots')

interface Violation { id: string, impact: string | null, help: string, nodes: { target: string[] }[] }

/** The axe rules that read colours: all that can change with the colour scheme. */
const COLOUR_RULES = ['color-contrast', 'link-in-text-block']

/** The serious and critical axe violations of the page as it is now: of every rule, or of `rules` alone. */
async function seriousViolations (page: Page, rules?: string[]): Promise<string[]> {
  if (await page.evaluate(() => !('axe' in window))) await page.addScriptTag({ path: AXE_PATH })
  const violations = await page.evaluate(async (rules) => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: unknown[] }> } }).axe
    const result = await axe.run(document, { resultTypes: ['violations'], ...(rules !== undefined && { runOnly: { type: 'rule', values: rules } }) })
    return result.violations
  }, rules) as Violation[]
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)
}

if (browserAvailable(t)) {
  const site = await startSite(t)
  const { app } = site
  const tech = await makeUser(app, 'technician', { name: 'Eve Evening', shift: 'evening' })
  const mod = await makeUser(app, 'moderator', { name: 'Mo Derator' })
  const admin = await makeUser(app, 'admin', { name: 'Ada Admin' })
  const customer = await makeUser(app, 'customer', { name: 'Cleo Customer' })

  const thread = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Datacenter DC-2: fire in room 3', body: 'Fire brigade on site. **All racks of room 3 are down.**' })
  const update = await apiAs<{ id: number }>(app, tech, 'POST', `/threads/${thread.id}/posts`, {
    body: 'Power cut to room 3. Customers moved to DC-1:\n\n- web hosting: done\n- databases: in progress',
    status: 'identified',
    nextUpdateAt: new Date(Date.now() + 30 * 60_000).toISOString()
  })
  await apiAs(app, mod, 'PUT', `/threads/${thread.id}/pin`, { postId: update.id })
  const question = await apiAs<{ id: number }>(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Are backups safe?' })
  await apiAs(app, tech, 'POST', `/threads/${thread.id}/posts`, { body: 'Yes: backups are kept in DC-1.', kind: 'comment', replyTo: question.id })
  await apiAs(app, customer, 'POST', `/threads/${thread.id}/posts`, { body: 'Rumour: it was arson' })
  const resolved = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: 'Mail delays', body: 'Queue is long.' })
  await apiAs(app, tech, 'POST', `/threads/${resolved.id}/posts`, { body: 'All mail delivered.', status: 'resolved' })
  await apiAs(app, await makeUser(app, 'customer'), 'POST', `/posts/${question.id}/flags`, { reason: 'rumour' }, 201)

  t.test('axe finds no serious or critical violation on any page type', async (t) => {
    const pages: { who: string, user?: typeof tech, paths: string[] }[] = [
      { who: 'a reader', paths: ['/', `/t/${thread.id}`, `/t/${thread.id}?view=official`, `/t/${thread.id}/timeline`, '/login', '/register', '/logout?done=1', '/password/forgot'] },
      { who: 'a customer', user: customer, paths: [`/t/${thread.id}`, '/account'] },
      { who: 'a technician', user: tech, paths: ['/', `/t/${thread.id}`, `/t/${thread.id}/handover`, '/new'] },
      { who: 'a moderator', user: mod, paths: [`/t/${thread.id}`, '/mod/flags', '/mod/audit'] },
      { who: 'an admin', user: admin, paths: ['/admin/users', '/admin/tokens'] }
    ]
    for (const { who, user, paths } of pages) {
      // The page's CSP rightly refuses injected scripts; axe is ours, for the test only.
      const { context, page } = await site.open({ colorScheme: 'light', bypassCSP: true })
      if (user !== undefined) await site.signIn(page, user)
      for (const path of paths) {
        const res = await page.goto(path)
        t.equal(res?.status(), 200, `${path} for ${who}`)
        t.same(await seriousViolations(page), [], `${path} for ${who}, light colours`)
        // The same page in dark colours: only the rules that read colours can find anything new.
        await page.emulateMedia({ colorScheme: 'dark' })
        t.ok(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), `${path} for ${who}, now in dark colours`)
        t.same(await seriousViolations(page, COLOUR_RULES), [], `${path} for ${who}, dark colours`)
        await page.emulateMedia({ colorScheme: 'light' })
      }
      await context.close()
    }
  })

  t.test('an admin adds a person: the form, its refusal and the link shown pass axe', async (t) => {
    const { context, page } = await site.open({ colorScheme: 'light', bypassCSP: true })
    t.teardown(() => context.close())
    await site.signIn(page, admin)
    await page.goto('/admin/users')
    await page.locator('#add-user summary').click()
    const fill = async (email: string) => {
      await page.locator('#add-name').fill('Nadia Night')
      await page.locator('#add-email').fill(email)
      await page.locator('#add-role').selectOption('technician')
      await Promise.all([page.waitForLoadState('load'), page.locator('#add-user button[type="submit"]').click()])
    }
    // A technician without a shift: refused, the form open with the reason.
    await fill('nadia@example.org')
    t.match(await page.locator('#add-user-error').textContent(), /A technician needs a shift/, 'the reason is said')
    t.equal(await page.locator('#add-email').inputValue(), 'nadia@example.org', 'what was typed is kept')
    t.same(await seriousViolations(page), [], 'the refused form passes axe')
    await page.locator('#add-shift').selectOption('night')
    await Promise.all([page.waitForLoadState('load'), page.locator('#add-user button[type="submit"]').click()])
    t.match(await page.locator('#password-link').textContent(), /Account made for Nadia Night\./, 'the account is made')
    t.match(await page.locator('#password-link-url').inputValue(), /\/password\/reset\//, 'with the link to pass on')
    t.same(await seriousViolations(page), [], 'the answer with the link passes axe')
  })

  t.test('a customer posts a comment with the keyboard alone', async (t) => {
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    let steps = 0
    while (await page.evaluate(() => document.activeElement?.id) !== 'body') {
      await page.keyboard.press('Tab')
      if (++steps > 200) break
    }
    t.ok(steps <= 200, 'Tab reaches the message field')
    await page.keyboard.type('Typed with the keyboard only.')
    await page.keyboard.press('Tab')
    t.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Send the comment', 'the next Tab is the send button')
    t.ok(await page.evaluate(() => {
      const focused = document.activeElement
      return focused !== null && getComputedStyle(focused).outlineStyle !== 'none'
    }), 'which shows it has the focus')
    await Promise.all([page.waitForURL(/#p-\d+$/), page.keyboard.press('Enter')])
    t.match(await page.locator('#posts > .post').last().textContent(), /Typed with the keyboard only\./, 'the comment is posted')
  })

  t.test('a refused comment comes back focused, with the reason read out as the field\'s description', async (t) => {
    const { context, page } = await site.open()
    t.teardown(() => context.close())
    await site.signIn(page, customer)
    await page.goto(`/t/${thread.id}`)
    await page.locator('#body').fill('   ')
    await Promise.all([page.waitForLoadState('load'), page.locator('#compose button[type="submit"]').click()])
    await page.locator('#compose-error').waitFor()
    // The browser moves the focus (autofocus) as it renders the page, a moment after it has loaded.
    await t.resolves(page.waitForFunction(() => document.activeElement?.id === 'body', null, { timeout: 5000 }), 'the message field has the focus')
    const description = await page.evaluate(() => {
      const field = document.getElementById('body')!
      return (field.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent?.trim()).join(' | ')
    })
    t.match(description, await page.locator('#compose-error').textContent() ?? '-', 'its description begins with why it was refused')
    t.equal(await page.locator('#body').getAttribute('aria-invalid'), 'true', 'and it is marked invalid')
  })

  t.test('a long word, link, code line, table or name does not make the page wider than the screen', async (t) => {
    const longName = `Maximilian${'x'.repeat(60)}`
    const writer = await makeUser(app, 'customer', { name: longName })
    const long = await apiAs<Thread>(app, tech, 'POST', '/threads', { title: `Outage${'-outage'.repeat(20)}`, body: `Tracked at https://status.example.org/incidents/${'a1b2c3'.repeat(30)}` })
    await apiAs(app, tech, 'POST', `/threads/${long.id}/posts`, { body: ['```', `tail -f /var/log/${'very-long-path/'.repeat(20)}syslog`, '```'].join('\n') })
    await apiAs(app, writer, 'POST', `/threads/${long.id}/posts`, {
      body: [
        `Superlong${'x'.repeat(300)}`,
        `\`inline${'_code'.repeat(40)}\``,
        '```', `tail -f /var/log/${'very-long-path/'.repeat(20)}syslog`, '```',
        `| ${Array.from({ length: 30 }, (_, i) => `column ${i}`).join(' | ')} |`,
        `| ${Array.from({ length: 30 }, () => '---').join(' | ')} |`,
        `| ${Array.from({ length: 30 }, (_, i) => `value ${i}`).join(' | ')} |`
      ].join('\n\n')
    })
    for (const [name, viewport] of Object.entries({ desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } })) {
      for (const who of ['a reader', 'the writer'] as const) {
        const { context, page } = await site.open({ viewport, isMobile: name === 'phone', deviceScaleFactor: 1 })
        if (who === 'the writer') await site.signIn(page, writer)
        for (const path of ['/', `/t/${long.id}`, `/t/${long.id}/timeline`, ...(who === 'the writer' ? ['/account'] : [])]) {
          await page.goto(path)
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
          t.equal(overflow, 0, `${path} for ${who} on a ${name}: nothing wider than the screen`)
        }
        await context.close()
      }
    }
  })

  t.test("an admin's header on a desktop holds in two lines: the account, then the tools", async (t) => {
    const { context, page } = await site.open({ viewport: { width: 1280, height: 800 } })
    t.teardown(() => context.close())
    await site.signIn(page, admin)
    for (const lang of ['en', 'fr']) {
      await page.goto(`/?lang=${lang}`)
      // Items whose middles are this close share a line (a button is taller than a link).
      const lines = await page.locator('.site-header').evaluate((header) => {
        const middles = [...header.querySelectorAll('a, button')].map((item) => {
          const box = item.getBoundingClientRect()
          return box.top + box.height / 2
        }).sort((a, b) => a - b)
        return middles.filter((middle, i) => i === 0 || middle - middles[i - 1]! > 12).length
      })
      t.ok(lines <= 2, `${lang}: ${lines} lines`)
      t.equal(await page.locator('.site-tools a').count(), 5, `${lang}: with the five tools of an admin`)
    }
    await page.goto('/?lang=en')
  })

  t.test("a moderator's panels sit together above the posts, each heading on its arrow's line", async (t) => {
    const { context, page } = await site.open({ viewport: { width: 1280, height: 800 } })
    t.teardown(() => context.close())
    await site.signIn(page, mod)
    await page.goto(`/t/${thread.id}`)
    const top = (selector: string) => page.locator(selector).evaluate((element) => element.getBoundingClientRect().top)
    t.ok(await top('#settings') < await top('#posts'), 'the thread settings come before the posts, not after the comment form')
    t.ok(await top('#mod-tools') < await top('#settings'), 'right under the moderator tools')
    for (const panel of ['#mod-tools', '#settings']) {
      const [arrow, heading] = await page.locator(`${panel} summary`).evaluate((summary) =>
        [summary.getBoundingClientRect(), summary.querySelector('h2')!.getBoundingClientRect()].map((box) => box.height))
      t.ok(arrow! < heading! * 1.5, `${panel}: its heading on the line of its arrow`)
    }
  })

  t.test('the staff\'s tables fit a phone: they scroll in their box, not the page', async (t) => {
    await apiAs(app, admin, 'POST', '/admin/tokens', { userId: tech.actor.id })
    const { context, page } = await site.open({ viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 1 })
    t.teardown(() => context.close())
    await site.signIn(page, admin)
    for (const path of ['/admin/users', '/admin/tokens', '/mod/audit', '/admin/users?lang=fr', '/mod/audit?lang=fr']) {
      await page.goto(path)
      t.ok(await page.locator('.table-scroll table').count() > 0, `${path} has its table`)
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
      t.equal(overflow, 0, `${path} on a phone: nothing wider than the screen`)
      // A heading of one word drawn on more than one line was broken mid-word ("Cre/ate/d").
      const broken = await page.locator('.table-scroll th').evaluateAll((headings) => headings.filter((heading) => {
        const text = heading.firstChild
        if (text === null || text.nodeType !== Node.TEXT_NODE || /\s/.test((text.nodeValue ?? '').trim())) return false
        const range = document.createRange()
        range.selectNodeContents(text)
        return new Set([...range.getClientRects()].map((box) => Math.round(box.top))).size > 1
      }).map((heading) => heading.textContent))
      t.same(broken, [], `${path}: no heading broken mid-word`)
      if (path.startsWith('/admin/users')) {
        const buttons = await page.locator('#users tbody tr').first().locator('button[type="submit"]').evaluateAll((found) => found.map((button) => {
          const box = button.getBoundingClientRect()
          return { text: button.textContent, left: box.left, right: box.right }
        }))
        t.same(buttons.map((button) => button.text), path.includes('lang=fr') ? ['Enregistrer', 'Lien de mot de passe'] : ['Save', 'Password link'], `${path}: a user's row has its buttons`)
        t.ok(buttons.every((button) => button.left >= 0 && button.right <= 390), `${path}: a user's Save and Password link buttons are in view, not off to the side`)
        // Each cell holds what it shows: no address running under the next
        // column, no menu cut to "Équipe de" so that day and night look alike.
        const spilling = await page.locator('#users tbody td').evaluateAll((cells) => cells.flatMap((cell) => {
          const box = cell.getBoundingClientRect()
          const range = document.createRange()
          range.selectNodeContents(cell)
          const inside = [...range.getClientRects(), ...[...cell.querySelectorAll('select, button')].map((control) => control.getBoundingClientRect())]
          return inside.some((part) => part.width > 0 && (part.left < box.left - 0.5 || part.right > box.right + 0.5)) ? [cell.textContent!.trim().slice(0, 40)] : []
        }))
        t.same(spilling, [], `${path}: every cell holds its contents`)
        const cut = await page.locator('#users select').evaluateAll((menus) => menus.flatMap((menu) => {
          const select = menu as HTMLSelectElement
          const probe = document.createElement('span')
          probe.style.cssText = `font: ${getComputedStyle(select).font}; white-space: nowrap; position: absolute; visibility: hidden`
          probe.textContent = select.options[select.selectedIndex]!.text
          document.body.append(probe)
          // The words, the menu's padding, and its arrow (about 20 px) side by side.
          const style = getComputedStyle(select)
          const fits = probe.getBoundingClientRect().width + parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) + 20 <= select.clientWidth
          probe.remove()
          return fits ? [] : [probe.textContent]
        }))
        t.same(cut, [], `${path}: every menu shows its choice whole`)
      }
    }
  })

  t.test('screenshots of the list and the thread, on a desktop and a phone', async (t) => {
    await mkdir(SCREENSHOTS, { recursive: true })
    const sizes = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } }
    for (const [name, viewport] of Object.entries(sizes)) {
      const { context, page } = await site.open({ viewport, isMobile: name === 'phone', deviceScaleFactor: 1 })
      for (const [label, path] of [['list', '/'], ['thread', `/t/${thread.id}`]] as const) {
        await page.goto(path)
        await page.screenshot({ path: join(SCREENSHOTS, `${label}-${name}.png`), fullPage: true })
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
        t.equal(overflow, 0, `${label} on a ${name}: nothing wider than the screen`)
      }
      if (name === 'phone') {
        await page.goto(`/t/${thread.id}`)
        for (const id of ['current-state', 'next-update']) {
          const box = await page.locator(`#${id}`).boundingBox()
          t.ok(box !== null && box.y < viewport.height, `#${id} starts without scrolling on a phone`)
        }
      }
      await context.close()
    }

    const { context, page } = await site.open({ viewport: sizes.desktop })
    t.teardown(() => context.close())
    await page.emulateMedia({ media: 'print' })
    await page.goto(`/t/${thread.id}/timeline`)
    await page.screenshot({ path: join(SCREENSHOTS, 'timeline-print.png'), fullPage: true })
    t.ok(await page.locator('.site-header').isHidden(), 'the printed timeline leaves the site\'s header out')
    t.same(await page.locator('.logbook__entry .post__body').allTextContents().then((all) => all.map((s) => s.trim().split('\n')[0])),
      ['Fire brigade on site. All racks of room 3 are down.', 'Power cut to room 3. Customers moved to DC-1:'], 'and reads like a logbook: the official updates alone, in order')
  })
}
