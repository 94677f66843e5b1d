// Lead Center on the business's pages (GET /s/<key>.js fills in the origin and key); docs/architecture.md,
// "Website chat: the visitor's side". The visits: a view per page (and per single-page navigation), a ping while
// the page is seen; the answer says which number this visitor sees instead of each of the business's, swapped in
// the page's text and tel: links. The launcher: a closed shadow root styled through the CSSOM, out of the site's
// CSS and allowed by its CSP. The visitor's key: in the site's own localStorage, one for the chat and the visits.
// The site's forms that opt in: sent as they are submitted.
// The iframe: loaded when opened, while a chat goes on, or when an agent is online.
(() => {
  const ORIGIN = '__LC_ORIGIN__', KEY = '__LC_KEY__', NAME = 'lc-chat:' + KEY + ':';
  if (window[NAME]) return; // pasted twice
  window[NAME] = 1;
  const keep = (area, name, value) => {
    try {
      const storage = window[area];
      if (value === undefined) return storage.getItem(NAME + name);
      value === null ? storage.removeItem(NAME + name) : storage.setItem(NAME + name, value);
    } catch (off) { return null; } // storage refused: the chat still works on this page
  };
  const remember = (visitor) => /^[\w-]{16,64}$/.test(visitor) && keep('localStorage', 'visitor', visitor);
  const make = (tag, css, svg) => {
    const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
    node.style.cssText = css;
    return node;
  };
  // Bounded as Lead Center bounds them (a collect body stays under its 8 KB, a chat's hello is not refused).
  const page = () => ({ url: location.href.slice(0, 2000), title: document.title.slice(0, 300),
    referrer: document.referrer.slice(0, 2000) });
  let frame = null, open = false, href = location.href;
  const post = (message) => frame && frame.contentWindow.postMessage(message, ORIGIN);

  // -- visits: POST /s/<key>/collect, text/plain (a CORS simple request: no preflight), no cookies --
  const COLLECT = ORIGIN + '/s/' + KEY + '/collect';
  const PRIVACY = navigator.globalPrivacyControl === true || navigator.doNotTrack === '1';
  // tracking: null until the first answer, then whether there was one (none: refused here, or unreachable; this
  // page then sends nothing more). last: when the last view or ping went.
  let tracking = null, every = 60, last = 0, timer = 0, swaps = [], finder = null;
  const shown = {}; // business number -> the number this page shows instead
  const body = (kind) => JSON.stringify({ visitor: keep('localStorage', 'visitor'), kind, page: page(),
    privacy: PRIVACY });
  const tick = () => { // the next ping, while the page is seen (visibilitychange calls it again)
    clearTimeout(timer);
    if (!tracking || document.visibilityState !== 'visible') return;
    const wait = last + every * 1000 - Date.now();
    wait > 0 ? timer = setTimeout(tick, wait) : collect('ping');
  };
  // keepalive: the request outlives the page (a form's submission, the last ping).
  const send = (url, data) => fetch(url, { method: 'POST', body: data, keepalive: true, credentials: 'omit',
    headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
  const collect = (kind) => {
    last = Date.now();
    return send(COLLECT, body(kind))
      .then((r) => r.ok && r.json()).catch(() => null).then((answer) => {
        if (tracking === null) tracking = !!answer;
        if (answer) {
          remember(answer.visitor);
          every = Math.min(Math.max(1, +answer.ping_seconds || 60), 86400); // setTimeout's range
          use(Object(answer.numbers));
        }
        tick();
      });
  };

  // -- the swap: each business number, in the usual formats, in text nodes and tel:/sms: links --
  // A number's digits with up to two separators between any two; a North American one also without its 1
  // ("(404) 555-0100") and with "+1 ", "1-" before.
  const SEP = '[\\s().-]{0,2}', E164 = /^\+\d{7,15}$/;
  const pattern = (digits) => digits.length === 11 && digits[0] === '1'
    ? '(?:\\+?1' + SEP + '|\\()?' + [...digits.slice(1)].join(SEP) : '\\+?' + [...digits].join(SEP);
  // Not a part of a longer number: no digit (or "+44 ") just before, no digit just after.
  const swap = (text) => text.replace(finder, (match, ...groups) => {
    const at = groups[swaps.length], end = at + match.length;
    if (/(\d[-.]?|\+\d*[-.\s]?)$/.test(text.slice(Math.max(0, at - 5), at)) ||
      /^[-.]?\d/.test(text.slice(end, end + 2))) return match;
    const [from, to] = swaps[groups.findIndex((group) => group)];
    let i = to.length - match.replace(/\D/g, '').length;
    // The same format: the visitor's digits in place of the business's (the number's end, if printed without
    // its country code); a number of another length can only be shown as it is.
    return to.length === from.length ? match.replace(/\d/g, () => to[i++]) : to;
  });
  const SKIP = 'script,style,noscript,textarea,select';
  const skip = (element) => !element || element.isContentEditable || !!element.closest(SKIP);
  const scan = (node) => {
    if (node.nodeType === 3) {
      const data = swap(node.data);
      if (data !== node.data && !skip(node.parentElement)) node.data = data;
    }
    if (node.nodeType !== 1 || !node.isConnected || skip(node)) return;
    for (const link of [node, ...node.querySelectorAll('a[href]')]) {
      const href = link.getAttribute('href'), swapped = /^\s*(tel|sms):/i.test(href) && swap(href);
      if (swapped && swapped !== href && !skip(link)) link.setAttribute('href', swapped);
    }
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) scan(walker.currentNode);
  };
  // Content added or re-rendered later (a restored original is swapped again), a batch of changes at a time; the
  // swap's own changes are dropped.
  const observer = new MutationObserver((records) => {
    const nodes = new Set();
    for (const record of records) {
      record.type === 'childList' ? record.addedNodes.forEach((node) => nodes.add(node)) : nodes.add(record.target);
    }
    nodes.forEach(scan);
    observer.takeRecords();
  });
  const use = (numbers) => {
    const next = [];
    for (const [from, to] of Object.entries(numbers)) {
      if (!E164.test(from) || !E164.test(to)) continue;
      next.push([from, to]);
      if (shown[from] && shown[from] !== to) next.push([shown[from], to]); // a number swapped in before
      shown[from] = to;
    }
    if (JSON.stringify(next) === JSON.stringify(swaps)) return;
    swaps = next;
    observer.disconnect();
    if (!swaps.length) return;
    finder = new RegExp(swaps.map(([from]) => '(' + pattern(from.slice(1)) + ')').join('|'), 'g');
    scan(document.documentElement);
    observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true,
      attributeFilter: ['href'] });
  };
  const viewed = collect('view');
  document.addEventListener('visibilitychange', tick);
  // The page's last ping: a keepalive fetch outlives the page as sendBeacon does, and sendBeacon would send cookies.
  addEventListener('pagehide', () => tracking && collect('ping'));
  addEventListener('pageshow', (event) => event.persisted && tracking && collect('view')); // back from bfcache
  setInterval(() => { // a single-page site moves on without an event to listen to
    if (href === location.href) return;
    href = location.href;
    post({ lc: 'page', page: page() });
    if (tracking !== false) collect('view');
  }, 2000);

  // -- the site's forms that opted in (<form data-leadcenter-form="Quote request">): each one's fields go to Lead
  // Center as it is submitted, beside the site's own submission (nothing prevented). Never sent: passwords, hidden
  // fields, files, card and identity fields, card numbers (Lead Center drops them too).
  const SECRET = /pass|card|\bcc|cvv|cvc|csc|iban|ssn|one-time/i;
  const sendForm = (form) => {
    const name = form.getAttribute?.('data-leadcenter-form')?.trim().slice(0, 100);
    if (!name || tracking === false) return;
    let fields = [];
    for (const field of form.elements) {
      const { type, tagName } = field, auto = field.getAttribute('autocomplete') || '';
      const label = (field.labels?.[0]?.textContent.replace(field.textContent, '') ||
        field.getAttribute('aria-label') || field.placeholder || '').replace(/\s+/g, ' ').trim().slice(0, 200);
      const value = tagName === 'SELECT' ? [...field.selectedOptions].map((option) => option.text).join(', ')
        : type === 'checkbox' && field.value === 'on' ? 'yes' : String(field.value ?? '');
      if (!/^(INPUT|SELECT|TEXTAREA)$/.test(tagName) || field.disabled || !value.trim() ||
        /^(password|hidden|file|submit|reset|button|image)$/.test(type) || /^(checkbox|radio)$/.test(type) &&
        !field.checked || SECRET.test(auto + ' ' + field.name + ' ' + label) ||
        type !== 'tel' && /^[\d\s-]{13,23}$/.test(value) && /^\D*(\d\D*){13,19}$/.test(value)) continue;
      fields.push({ name: field.name.slice(0, 200), label, type, autocomplete: auto.slice(0, 200),
        value: value.slice(0, 4000) });
    }
    const data = () => JSON.stringify({ visitor: keep('localStorage', 'visitor'), form: name, page: page(),
      privacy: PRIVACY, fields: fields.slice(0, 50) });
    while (new Blob([data()]).size > 30000) fields = fields.slice(0, -1); // Lead Center takes 32 KB
    if (fields.length) send(ORIGIN + '/s/' + KEY + '/form', data()).catch(() => null);
  };
  addEventListener('submit', (event) => sendForm(event.target), true); // before the site's handlers, which may stop it
  // A site's script may send a form with form.submit(), which fires no submit event.
  const submit = HTMLFormElement.prototype.submit;
  HTMLFormElement.prototype.submit = function () {
    sendForm(this);
    return submit.call(this);
  };

  // {online, color, position}. Refused (no CORS) on a site that is not one of the company's allowed origins, or
  // Lead Center unreachable: no launcher.
  fetch(ORIGIN + '/s/' + KEY + '.json', { credentials: 'omit' }).then((r) => r.ok && r.json()).catch(() => null)
    .then((status) => {
      if (!status) return;
      const colour = /^#[0-9a-f]{6}$/i.test(status.color) ? status.color : '#1f6feb';
      const side = status.position === 'left' ? 'left:' : 'right:', rgb = parseInt(colour.slice(1), 16);
      const light = (rgb >> 16) * 299 + (rgb >> 8 & 255) * 587 + (rgb & 255) * 114 > 160000;
      const host = make('div', 'all:initial!important;position:fixed!important;bottom:20px!important;' + side +
        '20px!important;z-index:2147483647!important');
      const root = host.attachShadow({ mode: 'closed' });
      const button = make('button', 'position:relative;width:56px;height:56px;margin:0;padding:0;border:0;' +
        'border-radius:50%;cursor:pointer;display:grid;place-items:center;box-shadow:0 2px 12px #0006;' +
        'background:' + colour + ';color:' + (light ? '#1d2330' : '#fff'));
      const badge = make('span', 'position:absolute;top:0;right:0;width:12px;height:12px;border-radius:50%;' +
        'background:#d93025;border:2px solid #fff;display:none');
      const icon = make('svg', 'width:28px;height:28px;fill:none;stroke:currentColor;stroke-width:2', 1);
      const path = make('path', '', 1);
      icon.setAttribute('viewBox', '0 0 24 24');
      icon.append(path);
      button.append(icon, badge);
      root.append(button);
      (document.body || document.documentElement).append(host); // before the iframe: it needs a window
      const load = () => {
        if (frame) return;
        frame = make('iframe', 'position:absolute;bottom:68px;' + side + '0;width:min(380px,100vw - 40px);' +
          'height:min(600px,100vh - 108px);border:0;border-radius:12px;box-shadow:0 4px 24px #0004;' +
          'background:#fff;display:none');
        frame.title = 'Chat';
        frame.src = ORIGIN + '/w/' + KEY;
        root.prepend(frame);
      };
      const show = (now) => {
        open = now;
        keep('sessionStorage', 'open', now ? '1' : null); // the next page of this tab opens it again
        if (now) load();
        if (frame) frame.style.display = now ? 'block' : 'none';
        if (now) badge.style.display = 'none';
        path.setAttribute('d', now ? 'M6 6l12 12M18 6 6 18' : 'M4 5h16v11H9l-5 4z'); // close, or a speech bubble
        button.setAttribute('aria-label', now ? 'Close chat' : 'Open chat');
        button.setAttribute('aria-expanded', now);
        post({ lc: 'open', open: now });
      };
      const ON = {
        // After the first view's answer (a first visit's key, once, for both), or 3 s: the chat never waits long.
        ready: () => Promise.race([viewed, new Promise((done) => setTimeout(done, 3000))]).then(() => post({
          lc: 'init', visitor: keep('localStorage', 'visitor'), page: page(), open })),
        visitor: (m) => remember(m.visitor),
        chat: (m) => keep('localStorage', 'chat', m.active ? '1' : null),
        unread: () => { if (!open) badge.style.display = 'block'; },
        close: () => { show(false); button.focus(); },
      };
      addEventListener('message', (event) => {
        const m = event.data;
        if (event.origin === ORIGIN && frame && event.source === frame.contentWindow && Object.hasOwn(ON, m?.lc)) {
          ON[m.lc](m);
        }
      });
      button.addEventListener('click', () => {
        show(!open);
        if (open) frame.focus(); // on the visitor's click only: a page that opens with the widget keeps its focus
      });
      show(keep('sessionStorage', 'open') === '1');
      if (status.online || keep('localStorage', 'chat')) load();
    });
})();
