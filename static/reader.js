// Comforts for the reader's browser, on every page. Each is optional: without
// this script the server's page says the same, in the organisation's time zone.
// - times in the reader's own time zone, the full date kept on hover and focus;
// - on a thread, "while you were away: N updates, M comments" (per browser);
// - drafts of the forms' text kept in this browser until the server takes them;
// - a key of its own for each form on the page;
// - who is on duty read again every five minutes (staff: with the overdue updates, every minute),
//   and on the incident list, the incidents too, every minute.
(function () {
  'use strict'

  // The server knows a form sent twice (a double click, a retry) by its key.
  // A page kept for its reader and opened in two tabs carries the same keys in
  // both: each page load gets keys of its own, so two tabs post two comments.
  function newKey () {
    return window.crypto && typeof window.crypto.randomUUID === 'function' ? window.crypto.randomUUID() : null
  }
  var keys = document.querySelectorAll('input[name="idempotencyKey"]')
  for (var k = 0; k < keys.length; k++) keys[k].value = newKey() || keys[k].value

  var lang = document.documentElement.getAttribute('lang') === 'fr' ? 'fr' : 'en'
  var intlLocale = lang === 'fr' ? 'fr-FR' : 'en-GB'

  function storage () {
    // Private modes and strict settings may refuse storage: then there is no memory, only the page.
    try { return window.localStorage } catch (e) { return null }
  }

  function formatter (options) {
    try { return new Intl.DateTimeFormat(intlLocale, options) } catch (e) { return null }
  }

  // The same shapes as the server's: time alone, date alone, or both.
  var formats = {
    time: formatter({ timeStyle: 'short' }),
    date: formatter({ dateStyle: 'medium' }),
    datetime: formatter({ dateStyle: 'medium', timeStyle: 'short' }),
    full: formatter({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' })
  }

  function localiseTime (element) {
    if (element.hasAttribute('data-local')) return
    var date = new Date(element.getAttribute('datetime') || '')
    if (isNaN(date.getTime()) || !formats.full) return
    var shown = element.textContent || ''
    var style = /\d:\d\d/.test(shown) ? (/\d{4}/.test(shown) ? 'datetime' : 'time') : 'date'
    // A time shown alone for falling on the day of another (a promise, on the
    // day of its post) may fall on another day in the reader's zone.
    var ref = new Date(element.getAttribute('data-ref') || '')
    if (style !== 'date' && !isNaN(ref.getTime())) style = formats.date.format(date) === formats.date.format(ref) ? 'time' : 'datetime'
    element.textContent = formats[style].format(date)
    element.setAttribute('title', formats.full.format(date))
    element.setAttribute('data-local', '')
  }

  function localiseTimes (root) {
    var times = root.querySelectorAll ? root.querySelectorAll('time[datetime]') : []
    for (var i = 0; i < times.length; i++) localiseTime(times[i])
  }

  localiseTimes(document)
  // A time typed for the next update is a time of the same clock: the device's.
  var deviceZone = formats.full ? formats.full.resolvedOptions().timeZone : ''
  // The times are the reader's own now: the footer says so, and names the
  // zone (a printed page is read away from the device), not the
  // organisation's; so does the hint beside a time to type.
  var zoneNotes = document.querySelectorAll('#time-zone[data-local], .zone-hint[data-local]')
  for (var n = 0; n < zoneNotes.length && deviceZone; n++) zoneNotes[n].textContent = zoneNotes[n].getAttribute('data-local').replace('{zone}', deviceZone)
  var zoneFields = document.querySelectorAll('input[name="nextAtZone"]')
  for (var z = 0; z < zoneFields.length && deviceZone; z++) zoneFields[z].value = deviceZone
  // Posts and states arriving live carry the server's times: localise them too.
  if ('MutationObserver' in window) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        var added = records[i].addedNodes
        for (var j = 0; j < added.length; j++) {
          var node = added[j]
          if (node.nodeType !== 1) continue
          if (node.matches('time[datetime]')) localiseTime(node)
          else localiseTimes(node)
        }
      }
    }).observe(document.body, { childList: true, subtree: true })
  }

  // Drafts of the other forms with text to write (a handover, an edit, a
  // summary, a new incident), kept per reader, form and field until the
  // server takes the form. Sent, a form is taken when the next page is
  // elsewhere; one refused (the session had ended, say) comes back at its
  // own address, and its text stays kept for when the reader tries again.
  function keepFormDrafts () {
    if (!store) return
    // The page after a form was sent: its own address (refused, signed out
    // or not) keeps the draft; any other page means it was taken.
    for (var i = store.length - 1; i >= 0; i--) {
      var name = store.key(i)
      var sent = name && /^(sitrep:form:\d+:(\/[^:]*)):sent$/.exec(name)
      if (!sent) continue
      store.removeItem(name)
      if (location.pathname === sent[2]) continue
      var what = store.getItem(sent[1] + ':sentForm')
      var taken = store.getItem(sent[1] + ':taken')
      forget(sent[1] + ':')
      if (taken) store.setItem(sent[1] + ':taken', taken)
      if (what) rememberTaken(sent[1] + ':taken', what)
    }
    var viewer = document.body.getAttribute('data-viewer-id')
    if (!viewer) return
    var prefix = 'sitrep:form:' + viewer + ':'
    var forms = document.querySelectorAll('form[method="post"]')
    for (var f = 0; f < forms.length; f++) {
      if (forms[f].closest('#compose') || !forms[f].querySelector('textarea[name]')) continue
      keepForm(forms[f], prefix + new URL(forms[f].action, location.href).pathname + ':')
    }
  }

  function keepForm (form, prefix) {
    var texts = form.querySelectorAll('textarea[name]')
    for (var i = 0; i < texts.length; i++) keepDraft(texts[i], prefix + 'draft:' + texts[i].name)
    keepChoices(form, prefix + 'choices')
    // A handover or a summary leads back to its thread's page: a post of the reader's own, not news.
    var thread = /^\/t\/(\d+)\//.exec(new URL(form.action, location.href).pathname)
    form.addEventListener('submit', function () {
      store.setItem(prefix + 'sent', String(Date.now()))
      store.setItem(prefix + 'sentForm', whatIsSent(form))
      if (thread) store.setItem('sitrep:sent:' + thread[1], String(Date.now()))
    })
    afreshOnReturn(form, prefix + 'taken')
  }

  // What a form sends that makes it this post: its key and its text, and when.
  function whatIsSent (form) {
    var key = form.querySelector('input[name="idempotencyKey"]')
    var texts = form.querySelectorAll('textarea[name]')
    var values = []
    for (var i = 0; i < texts.length; i++) values.push(texts[i].value)
    return JSON.stringify({ key: key ? key.value : '', texts: values, at: Date.now() })
  }

  // The forms the server took from one page lately, the newest first: Back
  // may go past more than one.
  var TAKEN_KEPT = 5
  var TAKEN_FOR_MS = 30 * 60 * 1000
  function takenFrom (name) {
    var list
    try { list = JSON.parse(store.getItem(name) || '[]') } catch (e) { list = [] }
    if (!Array.isArray(list)) return []
    return list.filter(function (taken) { return taken && taken.texts && Date.now() - (taken.at || 0) < TAKEN_FOR_MS })
  }
  function rememberTaken (name, what) {
    var taken
    try { taken = JSON.parse(what) } catch (e) { return }
    store.setItem(name, JSON.stringify([taken].concat(takenFrom(name)).slice(0, TAKEN_KEPT)))
  }

  // Back to the page a form was sent from, once the server took it: the
  // browser shows the page as it was (kept whole, or loaded again with the
  // text put back in the form). The form starts afresh, with a key of its
  // own: its text is not offered to send again, nor a new text sent under
  // the key of the one already taken. A form that comes with text (an edit)
  // is left as it is: its server refuses to save over a change made since.
  function afreshOnReturn (form, takenName) {
    window.addEventListener('pageshow', function () {
      var texts = form.querySelectorAll('textarea[name]')
      for (var t = 0; t < texts.length; t++) if (texts[t].defaultValue !== '') return
      var now = JSON.parse(whatIsSent(form))
      var list = takenFrom(takenName)
      var match = -1
      for (var i = 0; i < list.length && match < 0; i++) {
        var sameKey = now.key !== '' && now.key === list[i].key
        var sameText = now.texts.join('') !== '' && now.texts.join('\u0000') === list[i].texts.join('\u0000')
        if (sameKey || sameText) match = i
      }
      if (match < 0) return
      list.splice(match, 1)
      store.setItem(takenName, JSON.stringify(list))
      form.reset()
      var key = form.querySelector('input[name="idempotencyKey"]')
      if (key) key.value = newKey() || ''
      var notes = form.querySelectorAll('.draft-note')
      for (var n = 0; n < notes.length; n++) notes[n].remove()
    })
  }

  function forget (prefix) {
    for (var i = store.length - 1; i >= 0; i--) {
      var name = store.key(i)
      if (name && name.indexOf(prefix) === 0) store.removeItem(name)
    }
  }

  // A field's draft: put back (with a word saying so) when the field comes
  // empty, or, for a field that comes with text (an edit), when the draft
  // was written from that same text; kept on every keystroke, with the text
  // it was written from.
  function keepDraft (field, key) {
    var kept = store.getItem(key)
    var original = field.defaultValue
    var from = store.getItem(key + ':from') || ''
    if (kept && kept !== field.value && (field.value.trim() === '' || from === original)) {
      field.value = kept
      var note = document.createElement('p')
      note.className = 'hint draft-note'
      note.textContent = document.body.getAttribute('data-i18n-draft-kept') || ''
      field.parentNode.insertBefore(note, field.nextSibling)
    }
    field.addEventListener('input', function () {
      if (field.value.trim() === '') {
        store.removeItem(key)
        store.removeItem(key + ':from')
        return
      }
      store.setItem(key, field.value)
      if (original !== '') store.setItem(key + ':from', original)
    })
  }

  // The choices of a form with text to write (the kind, the status, the
  // promise of the next update and its time, checking out): kept with its draft and put
  // back with it, so that the form sent again sends what was chosen, not
  // its defaults. A form the server shows again keeps its own.
  function keepChoices (form, key) {
    var fields = form.querySelectorAll('select[name], input[type="radio"][name], input[type="checkbox"][name], input[type="time"][name]')
    if (fields.length === 0) return
    var kept
    try { kept = JSON.parse(store.getItem(key) || 'null') } catch (e) { kept = null }
    if (kept && typeof kept === 'object' && form.querySelector('.draft-note')) {
      for (var i = 0; i < fields.length; i++) {
        var field = fields[i]
        if (!Object.prototype.hasOwnProperty.call(kept, field.name)) continue
        var value = kept[field.name]
        if (field.tagName === 'SELECT') {
          for (var o = 0; o < field.options.length; o++) if (field.options[o].value === value) field.value = value
        } else if (field.type === 'time') {
          field.value = value
        } else if (field.type === 'radio') {
          field.checked = field.value === value
        } else {
          field.checked = value === 'on'
        }
      }
    }
    form.addEventListener('change', function () {
      var choices = {}
      for (var i = 0; i < fields.length; i++) {
        var field = fields[i]
        if (field.tagName === 'SELECT' || field.type === 'time') choices[field.name] = field.value
        else if (field.type !== 'radio') choices[field.name] = field.checked ? 'on' : 'off'
        else if (field.checked) choices[field.name] = field.value
      }
      store.setItem(key, JSON.stringify(choices))
    })
  }

  // A time typed for the next update is the choice made (the server takes it
  // so): its button is ticked with it, for the form to say what it will send.
  // Another choice made after it lets the time go: the form sends what it shows.
  document.addEventListener('input', function (event) {
    var input = event.target
    if (!(input instanceof HTMLInputElement) || !input.form) return
    // A promise chosen by hand stays what it is (below: reopening an incident).
    if (input.name === 'next' || input.name === 'nextAt') input.form.setAttribute('data-promise-chosen', '')
    if (input.name === 'nextAt' && input.value !== '') {
      var at = input.form.querySelector('input[name="next"][value="at"]')
      if (at) at.checked = true
    } else if (input.name === 'next' && input.value !== 'at') {
      var time = input.form.querySelector('input[name="nextAt"]')
      if (time) time.value = ''
    }
  })

  // A resolved incident reopened from its form (another status chosen)
  // promises the next update as an open one's form does, unless a promise was
  // chosen meanwhile: news is due again.
  document.addEventListener('change', function (event) {
    var select = event.target
    if (!(select instanceof HTMLSelectElement) || !select.form || !select.hasAttribute('data-reopen-promise')) return
    if (select.form.hasAttribute('data-promise-chosen')) return
    var none = select.form.querySelector('input[name="next"][value="none"]')
    var usual = select.form.querySelector('input[name="next"][value="' + select.getAttribute('data-reopen-promise') + '"]')
    if (!none || !usual) return
    var reopened = select.value !== '' && select.value !== 'resolved'
    if (reopened && none.checked) usual.checked = true
    else if (!reopened && usual.checked) none.checked = true
  })

  // A link to a post (/posts/N) finds it wherever it is in its thread; when
  // it is on this page already, the page just goes to it.
  document.addEventListener('click', function (event) {
    var link = event.target instanceof Element ? event.target.closest('a[href^="/posts/"]') : null
    var id = link && /^\/posts\/(\d+)$/.exec(link.getAttribute('href') || '')
    if (!id || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    if (!document.getElementById('p-' + id[1])) return
    event.preventDefault()
    location.hash = 'p-' + id[1]
  })

  // Pages stay open for hours: who is on duty is read again while the page
  // is in view, every five minutes for readers (a crowd's worth of cached
  // pages), every minute for staff, whose pages also carry until when they
  // are on and the banner of overdue updates. The banner, an alert, is
  // replaced only when its list of incidents changes, so it is not read out
  // again every minute; its minutes are brought up to date in place.
  var dutyBox = document.getElementById('duty')
  // The incident list left open: a new incident, a status, a promise missed show within a minute.
  var incidentList = document.getElementById('incident-list')
  // An anonymous reader's list is revalidated from the cache (a 304 when
  // nothing changed); a signed-in reader's is rendered for them: every five minutes.
  var listForAnyone = incidentList !== null && !document.querySelector('form[action="/logout"]')
  if (dutyBox && 'fetch' in window && 'DOMParser' in window) {
    var staffPage = dutyBox.querySelector('.duty__actions') !== null
    window.setInterval(function () {
      if (document.hidden) return
      // Revalidated, not taken from the browser's cache: a 304 when nothing changed.
      fetch(location.pathname + location.search, { credentials: 'same-origin', cache: 'no-cache', headers: { accept: 'text/html' } })
        .then(function (res) { return res.ok ? res.text() : null })
        .then(function (html) {
          if (!html) return
          var fresh = new DOMParser().parseFromString(html, 'text/html')
          var duty = document.getElementById('duty')
          var freshDuty = fresh.getElementById('duty')
          if (duty && freshDuty) duty.replaceWith(document.importNode(freshDuty, true))
          var list = document.getElementById('incident-list')
          var freshList = fresh.getElementById('incident-list')
          if (list && freshList) {
            var shown = document.importNode(freshList, true)
            localiseTimes(shown)
            patchList(list, shown)
          }
          var slot = document.getElementById('staff-alerts-slot')
          var freshSlot = fresh.getElementById('staff-alerts-slot')
          if (!slot || !freshSlot) return
          if (alertLinks(slot) !== alertLinks(freshSlot)) slot.replaceWith(document.importNode(freshSlot, true))
          else countOn(slot, freshSlot)
        })
        .catch(function () {})
    }, staffPage || listForAnyone ? 60000 : 300000)
  }

  // The incident list as read again, compared as shown (its times in the
  // reader's zone): the same incidents in the same places have only the rows
  // that changed replaced (a status, a promise, its minutes overdue), else the
  // whole list. The link a keyboard user is on keeps the focus.
  function patchList (list, shown) {
    var rows = list.querySelectorAll('li.incident')
    var freshRows = shown.querySelectorAll('li.incident')
    var same = rows.length === freshRows.length
    for (var i = 0; same && i < rows.length; i++) same = placeOf(rows[i]) === placeOf(freshRows[i])
    if (!same) {
      if (list.textContent !== shown.textContent) replaceKeepingFocus(list, shown)
      return
    }
    for (var j = 0; j < rows.length; j++) {
      if (rows[j].textContent !== freshRows[j].textContent) replaceKeepingFocus(rows[j], freshRows[j])
    }
  }

  // An incident's row and where it stands: its thread (a renamed title keeps it) and its group.
  function placeOf (row) {
    var link = row.querySelector('a[href^="/t/"]')
    var group = row.closest('section')
    return (link ? link.getAttribute('href').split('/').slice(0, 3).join('/') : '') + '|' + (group ? group.getAttribute('aria-labelledby') : '')
  }

  function replaceKeepingFocus (current, fresh) {
    var active = document.activeElement
    var href = active && current.contains(active) ? active.getAttribute('href') : null
    current.replaceWith(fresh)
    if (!href) return
    var links = fresh.querySelectorAll('a[href]')
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute('href') === href) {
        links[i].focus({ preventScroll: true })
        return
      }
    }
  }

  // The same overdue updates, later: their minutes count on, quietly (the
  // banner is an alert, and a minute more is no news to read out again).
  function countOn (slot, freshSlot) {
    var links = slot.querySelectorAll('a[href]')
    var fresh = freshSlot.querySelectorAll('a[href]')
    var banner = slot.querySelector('[role="alert"]')
    for (var i = 0; i < links.length && i < fresh.length; i++) {
      if (links[i].textContent === fresh[i].textContent) continue
      if (banner) banner.setAttribute('aria-live', 'off')
      links[i].textContent = fresh[i].textContent
    }
  }

  function alertLinks (slot) {
    var links = slot.querySelectorAll('a[href]')
    var hrefs = []
    for (var i = 0; i < links.length; i++) hrefs.push(links[i].getAttribute('href'))
    return hrefs.join(' ')
  }

  var store = storage()
  // Drafts are their writer's: signing out forgets them, so the next person
  // on a shared computer does not find them in their form.
  var signOut = document.querySelector('form[action="/logout"]')
  if (signOut && store) {
    signOut.addEventListener('submit', function () {
      forget('sitrep:draft:')
      forget('sitrep:form:')
    })
  }

  keepFormDrafts()

  var thread = document.querySelector('[data-thread-id]')
  if (!thread || !store) return
  var threadId = thread.getAttribute('data-thread-id')

  function text (name, values) {
    var template = thread.getAttribute('data-i18n-' + name) || ''
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return values && values[key] !== undefined ? String(values[key]) : whole
    })
  }

  var plural = 'PluralRules' in Intl ? new Intl.PluralRules(intlLocale) : null
  function counted (name, count) {
    var form = plural && plural.select(count) === 'one' ? 'one' : 'other'
    return text(name + '-' + form, { count: count })
  }

  // While you were away: posts of this page newer than the last one seen here.
  function postIds () {
    var ids = []
    var items = document.querySelectorAll('#posts > [data-post-id]')
    for (var i = 0; i < items.length; i++) ids.push({ id: Number(items[i].getAttribute('data-post-id')), kind: items[i].getAttribute('data-kind') })
    return ids
  }

  // Back from our own post (the server answers a good post with a redirect to it):
  // the newer posts are not news, and the draft has been taken.
  var sentKey = 'sitrep:sent:' + threadId
  var draftKey = 'sitrep:draft:' + threadId + ':' + (thread.getAttribute('data-viewer-id') || '')
  // What this thread's form sent, and what the server took lately (see
  // afreshOnReturn): the writer's, forgotten when they sign out.
  var sentFormKey = draftKey + ':sent'
  var takenKey = draftKey + ':taken'
  var justPosted = false
  var sentAt = store.getItem(sentKey)
  if (sentAt !== null) {
    var sentForm = store.getItem(sentFormKey)
    store.removeItem(sentKey)
    store.removeItem(sentFormKey)
    // A form the server could not take leaves its mark behind: only a fresh one counts.
    justPosted = /^#p-\d+$/.test(location.hash) && Date.now() - Number(sentAt) < 2 * 60 * 1000
    // Taken from this page's own form (not a handover's): its draft goes.
    if (justPosted && sentForm) {
      store.removeItem(draftKey)
      store.removeItem(draftKey + ':choices')
      rememberTaken(takenKey, sentForm)
    }
  }

  var seenKey = 'sitrep:seen:' + threadId
  var lastSeen = Number(store.getItem(seenKey)) || 0
  var away = document.getElementById('while-away')
  var postList = document.getElementById('posts')

  function showAway () {
    var items = postIds()
    var updates = 0
    var comments = 0
    for (var i = 0; i < items.length; i++) {
      if (items[i].id <= lastSeen) continue
      if (items[i].kind === 'comment') comments++
      else updates++
    }
    // What there is, and no "0 comments" (the official view shows none).
    var news = []
    if (updates > 0) news.push(counted('updates', updates))
    if (comments > 0) news.push(counted('comments', comments))
    if (news.length === 0) return
    away.textContent = text('away', { news: news.join(', ') })
    away.hidden = false
  }

  if (lastSeen > 0 && away && postList && !justPosted) {
    showAway()
    // A page from a cache can be a few seconds old: what the live stream fills
    // in right after the load was missed too. Later arrivals are seen live.
    var CATCH_UP_MS = 10000
    var loadedAt = Date.now()
    if ('MutationObserver' in window) {
      var catchUp = new MutationObserver(function () {
        if (Date.now() - loadedAt > CATCH_UP_MS) catchUp.disconnect()
        else showAway()
      })
      catchUp.observe(postList, { childList: true })
    }
  }
  function rememberSeen () {
    var ids = postIds()
    var latest = ids.length > 0 ? ids[ids.length - 1].id : 0
    if (latest > (Number(store.getItem(seenKey)) || 0)) store.setItem(seenKey, String(latest))
  }
  rememberSeen()
  // Posts that arrived live while the page was open were seen too.
  window.addEventListener('pagehide', rememberSeen)
  document.addEventListener('visibilitychange', function () { if (document.hidden) rememberSeen() })

  // Drafts: kept on every keystroke, until the server has taken the post.
  var form = document.querySelector('#compose form')
  var body = form && form.querySelector('textarea[name="body"]')
  if (!form || !body) return
  keepDraft(body, draftKey)
  keepChoices(form, draftKey + ':choices')
  form.addEventListener('submit', function () {
    store.setItem(sentKey, String(Date.now()))
    store.setItem(sentFormKey, whatIsSent(form))
  })
  afreshOnReturn(form, takenKey)

  // Markdown preview, rendered and sanitised by the server exactly as a post would be.
  var csrf = document.querySelector('meta[name="csrf-token"]')
  var actions = form.querySelector('.form__actions')
  if (!csrf || !actions || !('fetch' in window)) return
  var button = document.createElement('button')
  button.type = 'button'
  button.className = 'button button--quiet'
  button.textContent = text('preview')
  button.setAttribute('aria-controls', 'compose-preview')
  var preview = document.createElement('div')
  preview.id = 'compose-preview'
  preview.className = 'preview post__body'
  preview.setAttribute('role', 'region')
  preview.setAttribute('aria-label', text('preview-label'))
  preview.setAttribute('aria-live', 'polite')
  preview.hidden = true
  actions.appendChild(button)
  actions.parentNode.insertBefore(preview, actions)
  button.addEventListener('click', function () {
    fetch('/api/v1/preview', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf.getAttribute('content') || '' },
      body: JSON.stringify({ body: body.value })
    }).then(function (res) {
      if (!res.ok) throw new Error(String(res.status))
      return res.json()
    }).then(function (answer) {
      preview.innerHTML = answer.html
    }, function () {
      preview.textContent = text('preview-failed')
    }).then(function () { preview.hidden = false })
  })
})()
