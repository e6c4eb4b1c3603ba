// Live updates for a thread page. The page is complete without this script;
// it only keeps it current: new posts, edits, hides, the pinned state and the
// status arrive over a WebSocket, resumed from the last seq after any drop.
(function () {
  'use strict'

  var root = document.querySelector('[data-thread-id][data-seq]')
  if (!root || !('WebSocket' in window)) return

  var threadId = root.getAttribute('data-thread-id')
  var lastSeq = Number(root.getAttribute('data-seq')) || 0
  var officialOnly = root.getAttribute('data-view') === 'official'
  var lang = document.documentElement.getAttribute('lang') === 'fr' ? 'fr' : 'en'
  var posts = document.getElementById('posts')
  var statusLine = document.getElementById('live-status')
  var announcer = document.getElementById('live-announce')
  var marker = document.getElementById('new-posts')
  // Posts arrived while this page shows an earlier stretch of the thread.
  var later = 0
  var csrfMeta = document.querySelector('meta[name="csrf-token"]')
  var viewerId = root.getAttribute('data-viewer-id') || ''
  var pinnedMark = document.querySelector('#current-state [data-post-id]')
  var pinnedId = pinnedMark ? Number(pinnedMark.getAttribute('data-post-id')) : null
  var baseTitle = document.title

  var BASE_DELAY = 1000
  var MAX_DELAY = 30000
  // The server pings every 30 s; this long without a frame means the link is dead.
  var SILENCE_LIMIT = 75000
  // Back in view, a socket silent this long (a ping and a half) is taken for dead.
  var SILENT_ON_RETURN = 45000
  // A socket that stays open this long has really come back: the backoff starts again from its shortest.
  var STABLE_AFTER = 10000
  // A page whose socket never opened after this many tries (a proxy or a
  // firewall that lets no WebSocket through, or a server shedding new
  // sockets) asks the API for news instead, about once a minute while it is
  // in view, until it finds some, and goes on trying the socket.
  var POLL_AFTER_FAILURES = 3
  var POLL_EVERY = 60000

  var ANNOUNCE_AFTER = 5000
  var announcedState = 'live'
  var stateTimer = null

  var socket = null
  var attempt = 0
  var everOpened = false
  var failedOpens = 0
  var polling = false
  var pollTimer = null
  // A question to the API on its way: no other is asked meanwhile.
  var pollPending = false
  // News found by asking the API: the marker offers to load the page again.
  var newsToLoad = false
  var retryTimer = null
  var silenceTimer = null
  var stableTimer = null
  var lastFrameAt = 0
  var unseen = []
  var unreadWhileHidden = 0

  function text (name, values) {
    var template = root.getAttribute('data-i18n-' + name) || ''
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return values && values[key] !== undefined ? String(values[key]) : whole
    })
  }

  // The line shows the link's state at once. Screen readers hear of it only
  // when it lasts: a network gone at once, a link lost for a few seconds,
  // and its return after either; a reconnect in passing is not read out.
  function showState (state) {
    if (!statusLine) return
    statusLine.setAttribute('data-state', state)
    statusLine.textContent = text(state)
    window.clearTimeout(stateTimer)
    if (state === announcedState) return
    if (state === 'live') {
      announcedState = state
      announce(text(state))
      return
    }
    stateTimer = window.setTimeout(function () {
      announcedState = state
      announce(text(state))
    }, state === 'offline' ? 0 : ANNOUNCE_AFTER)
  }

  function announce (message) {
    if (!announcer) return
    // Cleared first, so the same words twice are still read out.
    announcer.textContent = ''
    window.setTimeout(function () { announcer.textContent = message }, 50)
  }

  function fragment (html) {
    var template = document.createElement('template')
    template.innerHTML = html
    var element = template.content.firstElementChild
    if (element) personalise(element)
    return element
  }

  // Live posts come rendered for the reader's role, not for them: this page's
  // CSRF token goes in their forms; a reader with no form to write in here
  // (a locked thread) gets no Reply link; and the reader's own posts lose the
  // form to flag them and gain their Edit link (the page carries its label
  // when its reader may edit their posts).
  function personalise (element) {
    markPinned(element)
    var token = csrfMeta ? csrfMeta.getAttribute('content') || '' : ''
    var inputs = element.querySelectorAll('input[name="_csrf"]')
    for (var i = 0; i < inputs.length; i++) inputs[i].value = token
    if (!document.querySelector('#compose form:not([data-closed])')) {
      var replies = element.querySelectorAll('.post__actions a[href*="replyTo="]')
      for (var r = 0; r < replies.length; r++) replies[r].remove()
    }
    if (viewerId === '' || element.getAttribute('data-author-id') !== viewerId) return
    var flag = element.querySelector('.post__flag')
    if (flag) flag.remove()
    var actions = element.querySelector('.post__actions')
    var editLabel = text('edit')
    var postId = element.getAttribute('data-post-id')
    if (!actions || !editLabel || !postId || element.classList.contains('post--hidden') || actions.querySelector('a[href$="/edit"]')) return
    var link = document.createElement('a')
    link.className = 'action'
    link.href = '/posts/' + encodeURIComponent(postId) + '/edit'
    link.textContent = editLabel
    var reply = actions.querySelector('a[href*="replyTo="]')
    actions.insertBefore(link, reply ? reply.nextSibling : actions.firstChild)
  }

  function nearBottom () {
    if (!posts) return true
    var rect = posts.getBoundingClientRect()
    return rect.bottom - window.innerHeight < 200
  }

  function updateMarker () {
    if (!marker) return
    if (newsToLoad) {
      marker.textContent = text('news-reload')
      marker.hidden = false
      return
    }
    if (later > 0) {
      marker.textContent = text('new-posts-later', { count: later })
      marker.hidden = false
      return
    }
    if (unseen.length === 0) {
      marker.hidden = true
      return
    }
    marker.textContent = text('new-posts', { count: unseen.length })
    marker.hidden = false
  }

  function updateTitle () {
    document.title = unreadWhileHidden > 0 ? '(' + unreadWhileHidden + ') ' + baseTitle : baseTitle
  }

  function isOfficial (kind) { return kind === 'update' || kind === 'handover' }

  function placePost (post, html) {
    if (!posts || !html) return
    var existing = document.getElementById('p-' + post.id)
    var element = fragment(html)
    if (!element) return
    if (existing) {
      replacePost(existing, element)
      return
    }
    if (officialOnly && !isOfficial(post.kind)) return
    // A page showing an older stretch of a long thread does not grow at its
    // end; its reader still hears of an official update, and the tab counts it.
    var grows = posts.getAttribute('data-complete') !== 'false'
    if (grows) {
      var wasNearBottom = nearBottom()
      posts.appendChild(element)
      var empty = document.querySelector('.thread__posts .empty')
      if (empty) empty.remove()
      if (!wasNearBottom) {
        unseen.push(element)
        updateMarker()
      }
    } else {
      // The marker leads to the latest posts instead.
      later++
      updateMarker()
    }
    if (document.hidden && (grows || isOfficial(post.kind))) {
      unreadWhileHidden++
      updateTitle()
    }
    if (isOfficial(post.kind)) announce(text('announce', { name: post.author.name }))
    else if (repliesToViewer(post)) announce(text('announce-reply', { name: post.author.name }))
  }

  // A reader waiting for an answer to their question hears of it; the other comments are not read out.
  function repliesToViewer (post) {
    var viewer = root.getAttribute('data-viewer-id')
    var target = post.replyTo && document.getElementById('p-' + post.replyTo)
    return Boolean(viewer && target && target.getAttribute('data-author-id') === viewer && String(post.author.id) !== viewer)
  }

  function replaceById (id, html) {
    var current = document.getElementById(id)
    if (!current) return
    if (!html) {
      current.remove()
      return
    }
    var element = fragment(html)
    if (element) replacePost(current, element)
  }

  // A post comes rendered for the reader's role, not for them: a comment this
  // reader flagged keeps saying so, rather than offering the form again.
  function replacePost (current, element) {
    var flagged = current.querySelector('.post__flagged')
    var flag = element.querySelector('.post__flag')
    if (flagged && flag) flag.replaceWith(flagged)
    current.replaceWith(element)
  }

  // What views/partials/post.hbs leaves out of a post shown inCurrentState.
  var COPY_LEAVES_OUT = '.post__status, .post__promise, .post__actions, .post__history, .post__mod'

  // The pinned state, and the earlier ones, show copies of posts: an edit to
  // a post, or its hiding, shows there too.
  function refreshPinnedCopy (post, html) {
    if (!html) return
    var copies = document.querySelectorAll('#current-state-slot [data-post-id="' + post.id + '"], #pin-history [data-post-id="' + post.id + '"]')
    for (var i = 0; i < copies.length; i++) {
      var element = fragment(html)
      if (!element) return
      element.removeAttribute('id')
      element.classList.remove('post--pinned')
      // As the page renders the copy: without what the post once set (the
      // status and promise above it are the current ones) nor what acts on it.
      var left = element.querySelectorAll(COPY_LEAVES_OUT)
      for (var j = 0; j < left.length; j++) left[j].remove()
      copies[i].replaceWith(element)
    }
  }

  // A pinned state that ends goes on top of the earlier states, as this page
  // showed it, under the line saying who pinned it and from when to when.
  function keepEarlierState (postId, metaHtml) {
    var history = document.getElementById('pin-history')
    var list = history && history.querySelector('.pin-history__list')
    var copy = document.querySelector('#current-state-slot [data-post-id="' + postId + '"]')
    var meta = fragment(metaHtml)
    if (!list || !copy || !meta) return
    var item = document.createElement('li')
    item.className = 'pin-history__item'
    item.appendChild(meta)
    item.appendChild(copy)
    list.insertBefore(item, list.firstChild)
    history.querySelector('summary').textContent = text('earlier-states', { count: list.children.length })
    history.hidden = false
  }

  // "Next update due by 14:15 (in 12 min)" counts down while the page stays
  // open, and turns into "overdue" when the time passes without an update.
  function formatDuration (minutes) {
    if (minutes < 60) return text('minutes', { minutes: minutes })
    if (minutes < 1440) return text(minutes % 60 === 0 ? 'whole-hours' : 'hours', { hours: Math.floor(minutes / 60), minutes: minutes % 60 })
    var hours = Math.floor((minutes % 1440) / 60)
    return text(hours === 0 ? 'whole-days' : 'days', { days: Math.floor(minutes / 1440), hours: hours })
  }

  function refreshPromise () {
    var line = document.getElementById('next-update')
    var due = line && Date.parse(line.getAttribute('data-due') || '')
    var time = line && line.querySelector('time')
    if (!line || !due || !time) return
    var ms = due - Date.now()
    var overdue = ms < 0
    var minutes = overdue ? Math.max(1, Math.floor(-ms / 60000)) : Math.ceil(ms / 60000)
    var template = text(overdue ? 'overdue' : 'next-update')
    if (!template) return
    // Rewritten only when what it says changes (it is looked at every few seconds).
    var shown = (overdue ? '-' : '+') + minutes
    if (line.getAttribute('data-shown') === shown) return
    line.setAttribute('data-shown', shown)
    // Built from text nodes around the line's own <time>: nothing is parsed as HTML.
    line.textContent = ''
    template.split(/(\{time\}|\{duration\})/).forEach(function (part) {
      line.appendChild(part === '{time}' ? time : document.createTextNode(part === '{duration}' ? formatDuration(minutes) : part))
    })
    line.classList.toggle('next-update--overdue', overdue)
  }

  // "Scheduled now: Day shift" turns to the next shift at its hour: the line
  // carries the next changes, as "<shift>@<ISO time>" words.
  function refreshDuty () {
    var line = document.getElementById('thread-duty')
    if (!line) return
    var words = (line.getAttribute('data-changes') || '').split(' ')
    var current = ''
    for (var i = 0; i < words.length; i++) {
      var parts = words[i].split('@')
      if (Date.parse(parts[1] || '') <= Date.now()) current = parts[0]
    }
    var name = current && text('shift-' + current)
    var said = name && text('on-duty', { shift: name })
    if (said && line.textContent !== said) line.textContent = said
  }

  // What moves with the clock alone.
  function tick () {
    refreshPromise()
    refreshDuty()
  }

  function applyThread (event) {
    if (event.thread) {
      applyTitle(event.thread.title)
      followSettings(event.thread)
      applyClosed(event.thread)
      leaveOverdue(event.thread)
    }
    var lockedNotice = document.getElementById('locked-notice')
    if (event.thread && lockedNotice) lockedNotice.hidden = !event.thread.locked
    var signInPrompt = document.getElementById('sign-in-prompt')
    if (event.thread && signInPrompt) signInPrompt.hidden = event.thread.locked || event.thread.crisisReadOnly
    var crisis = document.getElementById('crisis-banner')
    if (event.thread && crisis) {
      crisis.hidden = !event.thread.crisisMode
      var readOnly = crisis.querySelector('[data-crisis="read-only"]')
      var slow = crisis.querySelector('[data-crisis="slow"]')
      if (readOnly) readOnly.hidden = !event.thread.crisisReadOnly
      if (slow) slow.hidden = event.thread.crisisReadOnly
    }
    if (event.stateView !== undefined) {
      replaceById('thread-state', event.stateView)
      tick()
    }
    if (event.unpinnedView && event.unpinned) keepEarlierState(event.unpinned.postId, event.unpinnedView)
    if (event.pinnedView !== undefined) {
      var slot = document.getElementById('current-state-slot')
      if (slot) slot.innerHTML = event.pinnedView
    }
    if (event.thread && event.thread.pinnedPostId !== pinnedId) {
      pinnedId = event.thread.pinnedPostId
      var marked = document.querySelectorAll('#posts > .post--pinned')
      for (var i = 0; i < marked.length; i++) markPinned(marked[i])
      var now = pinnedId === null ? null : document.getElementById('p-' + pinnedId)
      if (now) markPinned(now)
    }
  }

  // A moderator's settings and crisis forms follow a change made elsewhere. A
  // field left as the page showed it takes the new value; one being changed
  // keeps what is typed. Either way its twin (lockedWas...) says what the
  // thread is now, so that only what this moderator changes is sent.
  var SETTINGS = [['title', 'text'], ['locked', 'check'], ['slowModeSeconds', 'text'], ['crisisMode', 'check'], ['crisisReadOnly', 'check']]
  function followSettings (thread) {
    for (var i = 0; i < SETTINGS.length; i++) {
      var name = SETTINGS[i][0]
      var check = SETTINGS[i][1] === 'check'
      var was = document.querySelector('form input[type="hidden"][name="' + name + 'Was"]')
      var input = was && was.form.querySelector('input[name="' + name + '"]')
      if (!input || thread[name] === undefined) continue
      var now = check ? (thread[name] ? 'on' : 'off') : String(thread[name])
      var shown = check ? (input.checked ? 'on' : 'off') : input.value
      if (shown === was.value) {
        if (check) input.checked = Boolean(thread[name])
        else input.value = now
      }
      was.value = now
    }
  }

  // A thread renamed ("All servers down" becoming "Recovery in progress")
  // says so on pages left open for hours: the heading, and the tab's title,
  // where the layout sets the title apart with Unicode isolates.
  function applyTitle (title) {
    var heading = root.querySelector('.thread__title')
    if (!heading || typeof title !== 'string' || heading.textContent === title) return
    var was = '\u2068' + heading.textContent + '\u2069'
    heading.textContent = title
    if (document.title.indexOf(was) === 0) document.title = '\u2068' + title + '\u2069' + document.title.slice(was.length)
  }

  // On a staff page, this incident leaves the banner of overdue updates as
  // soon as it is resolved or promised again, not at the minute's refresh.
  function leaveOverdue (thread) {
    var slot = document.getElementById('staff-alerts-slot')
    var link = slot && slot.querySelector('a[href="/t/' + thread.id + '"]')
    if (!link) return
    var due = thread.nextUpdateAt === null ? NaN : Date.parse(thread.nextUpdateAt)
    if (thread.status !== 'resolved' && due <= Date.now()) return
    var item = link.closest('li')
    var list = item && item.parentNode
    if (!item || !list) return
    list.removeChild(item)
    var banner = document.getElementById('staff-alerts')
    if (banner && !list.querySelector('li')) banner.parentNode.removeChild(banner)
  }

  // A customer's comment form follows the thread. Locked (or read-only in a
  // crisis) while they write, it closes with a notice, their text kept in it
  // to copy; open again, it works again. A page that came closed says when
  // comments open again, the form being a reload away.
  function applyClosed (thread) {
    var lockedText = text('closed-locked')
    if (!lockedText) return
    var closed = thread.locked || (thread.crisisMode && thread.crisisReadOnly)
    var reason = thread.locked ? lockedText : text('closed-read-only')
    // Nor do the posts on the page offer a reply that could not be sent.
    root.classList.toggle('comments-closed', closed)
    var form = document.querySelector('#compose form')
    var notice = document.getElementById('compose-closed')
    if (!form) {
      var came = document.querySelector('#compose .notice')
      if (!came) return
      var said = closed ? reason : text('reopened')
      if (came.textContent === said) return
      came.textContent = said
      announce(said)
      return
    }
    if (closed === form.hasAttribute('data-closed')) {
      if (closed && notice) notice.firstChild.textContent = reason
      return
    }
    var body = form.querySelector('textarea')
    var buttons = form.querySelectorAll('button')
    if (body) body.readOnly = closed
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = closed
    if (closed) {
      form.setAttribute('data-closed', '')
      notice = document.createElement('p')
      notice.id = 'compose-closed'
      notice.className = 'notice'
      notice.setAttribute('role', 'status')
      notice.appendChild(document.createTextNode(reason))
      if (body && body.value.trim() !== '') notice.appendChild(document.createTextNode(' ' + text('closed-kept')))
      form.parentNode.insertBefore(notice, form)
      // A region that appears already filled is not always read out: said once more, where announcements go.
      announce(notice.textContent)
    } else {
      form.removeAttribute('data-closed')
      if (notice) notice.remove()
    }
  }

  // The post pinned as the current state is marked in the list too; live
  // posts come without the mark, which is the page's to know. A moderator's
  // Pin or Unpin follows as well: the page may be older than the pin.
  function markPinned (element) {
    if (!/^p-\d+$/.test(element.id)) return
    var pinned = Number(element.getAttribute('data-post-id')) === pinnedId
    element.classList.toggle('post--pinned', pinned)
    var form = element.querySelector('.post__actions form[action$="/pin"], .post__actions form[action$="/unpin"]')
    var label = text(pinned ? 'unpin' : 'pin')
    if (!form || !label) return
    // A hidden post, or a comment, is not offered as the current state.
    if (!pinned && (element.classList.contains('post--hidden') || element.getAttribute('data-kind') === 'comment')) return form.remove()
    form.setAttribute('action', form.getAttribute('action').replace(/\/(un)?pin$/, pinned ? '/unpin' : '/pin'))
    var button = form.querySelector('button')
    if (button) button.textContent = label
  }

  function onFrame (raw) {
    var event
    try { event = JSON.parse(raw) } catch (e) { return }
    lastFrameAt = Date.now()
    resetSilence()
    if (event.type === 'ping') caughtUp()
    if (event.type === 'ping' || typeof event.seq !== 'number') return
    if (event.seq <= lastSeq) return
    lastSeq = event.seq
    root.setAttribute('data-seq', String(lastSeq))
    if (event.type === 'post.created') placePost(event.post, event.view)
    else if (event.post) {
      replaceById('p-' + event.post.id, event.view)
      refreshPinnedCopy(event.post, event.view)
    }
    else if (event.type === 'thread.updated') applyThread(event)
  }

  // The server pings a socket first once it has sent all the page missed: a
  // page served as it was while the database was away is now up to date.
  function caughtUp () {
    var notice = document.querySelector('.notice--as-of')
    if (notice) notice.remove()
  }

  function resetSilence () {
    window.clearTimeout(silenceTimer)
    silenceTimer = window.setTimeout(dropSocket, SILENCE_LIMIT)
  }

  // A link gone dead (a laptop asleep, a phone's tab in the background) can
  // take a minute to report its close: let the socket go at once, and resume
  // from the last seq on a new one.
  function dropSocket () {
    var current = socket
    if (!current) return
    socket = null
    window.clearTimeout(silenceTimer)
    window.clearTimeout(stableTimer)
    current.close()
    scheduleReconnect()
  }

  function connect () {
    window.clearTimeout(retryTimer)
    retryTimer = null
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return
    if (navigator.onLine === false) {
      showState('offline')
      return
    }
    var scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
    var url = scheme + '//' + location.host + '/api/v1/threads/' + encodeURIComponent(threadId) +
      '/live?since=' + lastSeq + '&lang=' + lang
    var current = new WebSocket(url)
    socket = current
    current.onopen = function () {
      everOpened = true
      stopPolling()
      // The socket replays what the page missed: the posts come, and the marker counts them.
      if (newsToLoad) {
        newsToLoad = false
        updateMarker()
      }
      showState('live')
      lastFrameAt = Date.now()
      resetSilence()
      // An instance that takes the socket and drops it at once (overloaded,
      // stopping) is not a recovery: the delay before the next try keeps growing.
      window.clearTimeout(stableTimer)
      stableTimer = window.setTimeout(function () { if (socket === current) attempt = 0 }, STABLE_AFTER)
    }
    current.onmessage = function (message) { onFrame(message.data) }
    current.onclose = function (close) {
      if (!everOpened && !close.wasClean) failedOpens++
      if (socket !== current) return
      socket = null
      window.clearTimeout(silenceTimer)
      window.clearTimeout(stableTimer)
      scheduleReconnect()
    }
  }

  // Exponential backoff with full jitter: a crowd that lost the server at the
  // same moment does not come back at the same moment.
  function scheduleReconnect () {
    if (retryTimer !== null) return
    if (!everOpened && failedOpens >= POLL_AFTER_FAILURES) startPolling()
    showState(navigator.onLine === false ? 'offline' : polling ? 'polling' : 'reconnecting')
    var ceiling = Math.min(MAX_DELAY, BASE_DELAY * Math.pow(2, attempt))
    attempt++
    retryTimer = window.setTimeout(connect, Math.random() * ceiling)
  }

  // No WebSocket gets through: the thread's state, from the API, says
  // whether anything happened since the page was made (its last seq).
  function startPolling () {
    polling = true
    schedulePoll()
  }

  function stopPolling () {
    polling = false
    window.clearTimeout(pollTimer)
    pollTimer = null
  }

  // Not while the tab is hidden (it asks again once in view), nor once news is found.
  function schedulePoll () {
    if (!polling || newsToLoad || pollTimer !== null || pollPending || document.hidden) return
    pollTimer = window.setTimeout(poll, POLL_EVERY / 2 + Math.random() * POLL_EVERY)
  }

  // The official updates alone: news is an update or a handover after the
  // last one the page shows, not a comment it would not show.
  function newsSince () {
    var base = '/api/v1/threads/' + encodeURIComponent(threadId)
    if (!officialOnly) {
      return fetchJson(base + '?lang=' + lang).then(function (thread) {
        return thread !== null && typeof thread.lastSeq === 'number' && thread.lastSeq > lastSeq
      })
    }
    var shown = posts ? posts.querySelectorAll(':scope > .post') : []
    var last = shown.length > 0 ? Number(shown[shown.length - 1].getAttribute('data-post-id')) || 0 : 0
    return fetchJson(base + '/posts?kind=update&limit=1&after=' + last + '&lang=' + lang).then(function (found) {
      return found !== null && Array.isArray(found.posts) && found.posts.length > 0
    })
  }

  // A question left unanswered is given up after a while: the next one is asked in its turn.
  var ASK_TIMEOUT = 15000
  function fetchJson (url) {
    var controller = 'AbortController' in window ? new AbortController() : null
    var timer = controller ? window.setTimeout(function () { controller.abort() }, ASK_TIMEOUT) : null
    var done = function () { window.clearTimeout(timer) }
    return window.fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', signal: controller ? controller.signal : undefined })
      .then(function (response) { return response.ok ? response.json() : null })
      .then(function (found) { done(); return found }, function (err) { done(); throw err })
  }

  function poll () {
    pollTimer = null
    if (!polling || newsToLoad || document.hidden) return
    pollPending = true
    newsSince()
      .then(function (news) {
        // The socket opened meanwhile: it brings what happened.
        if (!polling || !news) return
        newsToLoad = true
        updateMarker()
        announce(text('news-reload'))
      }, function () {})
      .then(function () {
        pollPending = false
        schedulePoll()
      })
  }

  document.addEventListener('visibilitychange', function () {
    if (document.hidden) return
    schedulePoll()
    unreadWhileHidden = 0
    updateTitle()
    tick()
    // Back from the background: a socket silent for longer than a ping's interval is dead.
    if (socket && socket.readyState === WebSocket.OPEN && Date.now() - lastFrameAt > SILENT_ON_RETURN) dropSocket()
    else if (!socket) connect()
  })
  window.addEventListener('online', function () { connect() })
  // A dropped network can leave the socket looking open for minutes: let it
  // go now, and resume from the last seq when the network returns.
  window.addEventListener('offline', function () {
    var current = socket
    socket = null
    window.clearTimeout(silenceTimer)
    window.clearTimeout(retryTimer)
    retryTimer = null
    window.clearTimeout(stableTimer)
    if (current) current.close()
    showState('offline')
  })
  window.addEventListener('scroll', function () {
    if (unseen.length > 0 && nearBottom()) {
      unseen = []
      updateMarker()
    }
  }, { passive: true })
  if (marker) {
    marker.addEventListener('click', function () {
      if (newsToLoad) {
        location.reload()
        return
      }
      if (later > 0) {
        // The latest posts, at their end, where the new ones are.
        location.href = location.pathname + (officialOnly ? '?view=official' : '') + '#latest'
        return
      }
      var first = unseen[0]
      unseen = []
      updateMarker()
      if (first) {
        first.scrollIntoView({ behavior: 'smooth', block: 'start' })
        first.setAttribute('tabindex', '-1')
        first.focus({ preventScroll: true })
      }
    })
  }

  // Every few seconds: a promise turns overdue the moment it is missed, not up to half a minute later.
  tick()
  window.setInterval(tick, 5000)
  connect()
})()
