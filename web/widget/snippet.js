// Lead Center chat on the business's pages (GET /s/<key>.js fills in the origin and key); docs/architecture.md,
// "Website chat". The launcher: a closed shadow root styled through the CSSOM, out of the site's CSS and allowed
// by its CSP. The visitor's key: in the site's own localStorage. The iframe: loaded when opened, while a chat goes
// on, or when an agent is online.
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
  const make = (tag, css, svg) => {
    const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
    node.style.cssText = css;
    return node;
  };
  const page = () => ({ url: location.href, title: document.title, referrer: document.referrer });
  let frame = null, open = false, href = location.href;
  const post = (message) => frame && frame.contentWindow.postMessage(message, ORIGIN);

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
        setInterval(() => { // a single-page site moves on without an event to listen to
          if (href === location.href) return;
          href = location.href;
          post({ lc: 'page', page: page() });
        }, 2000);
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
        ready: () => post({ lc: 'init', visitor: keep('localStorage', 'visitor'), page: page(), open }),
        visitor: (m) => /^[\w-]{16,64}$/.test(m.visitor) && keep('localStorage', 'visitor', m.visitor),
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
