/* The live TCP page: polls tapstack-httpd's /api/ endpoints (apps/common/tcpviz.h) and draws
 * the RFC 9293 state diagram with the connections in it, the transitions, the connection table
 * and a connection's segment ladder. Plain DOM and SVG, no library. */
'use strict';
(() => {
  const CAP = 8; // tokens drawn per state; beyond, the last one counts the rest
  const POLL_MS = 1000;
  const MAX_ANIM = 24; // transitions animated per update (the rest only light their arrow)
  const LIST_MAX = 300; // rows kept in the transitions list
  const LADDER_MAX = 400; // ladder items kept by the page
  const SVGNS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, parent, text) { // an HTML element
    const e = document.createElement(tag);
    for (const k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  const sel = (tag, attrs, parent, text) => { // an SVG element
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  };
  const ms = (us) => (us / 1000).toFixed(us < 10000 ? 3 : 1) + ' ms';
  const dur = (us) => (us >= 10e6 ? (us / 1e6).toFixed(1) + ' s' : ms(us));

  // ---------------------------------------------------------------- the diagram's layout

  // Box centres. CLOSE is drawn twice, as in RFC 9293's figure 5: where connections begin (top)
  // and where they end (bottom right).
  const BW = 196, BH = 88;
  const BOX = {
    CLOSE: [500, 50], LISTEN: [290, 180], SYN_RECV: [125, 320], SYN_SENT: [875, 320],
    ESTABLISHED: [500, 455], FIN_WAIT1: [125, 590], CLOSE_WAIT: [875, 590],
    FIN_WAIT2: [125, 725], CLOSING: [500, 725], LAST_ACK: [875, 725],
    TIME_WAIT: [500, 862], CLOSE_END: [875, 862],
  };
  // Every arrow of the figure: event / action, its path and where its label goes
  // (x, y, anchor; a label is two lines, the event over the action). rare: tapstack never takes it.
  const EDGES = [
    { f: 'CLOSE', t: 'LISTEN', ev: 'passive open', act: 'create TCB', d: 'M 420 94 L 345 136', lx: 370, ly: 106, a: 'end' },
    { f: 'LISTEN', t: 'CLOSE', ev: 'close', act: 'delete TCB', d: 'M 215 136 C 215 70 300 40 402 36', lx: 210, ly: 64, a: 'end' },
    { f: 'CLOSE', t: 'SYN_SENT', ev: 'active open', act: 'snd SYN', d: 'M 598 46 C 780 46 860 150 860 276', lx: 772, ly: 98, a: 'start' },
    { f: 'SYN_SENT', t: 'CLOSE', ev: 'close', act: 'delete TCB', d: 'M 940 276 C 960 70 800 14 598 20', lx: 962, ly: 128, a: 'end' },
    { f: 'LISTEN', t: 'SYN_RECV', ev: 'rcv SYN', act: 'snd SYN,ACK', d: 'M 225 224 L 165 276', lx: 185, ly: 238, a: 'end' },
    { f: 'LISTEN', t: 'SYN_SENT', ev: 'send', act: 'snd SYN', d: 'M 388 190 C 600 190 740 220 800 276', lx: 600, ly: 186, a: 'middle', rare: true },
    { f: 'SYN_SENT', t: 'SYN_RECV', ev: 'rcv SYN', act: 'snd SYN,ACK', d: 'M 777 326 L 223 326', lx: 500, ly: 300, a: 'middle' },
    { f: 'SYN_RECV', t: 'ESTABLISHED', ev: 'rcv ACK of SYN', act: 'x', d: 'M 190 364 L 402 440', lx: 330, ly: 382, a: 'start' },
    { f: 'SYN_SENT', t: 'ESTABLISHED', ev: 'rcv SYN,ACK', act: 'snd ACK', d: 'M 810 364 L 598 440', lx: 670, ly: 382, a: 'end' },
    { f: 'SYN_RECV', t: 'FIN_WAIT1', ev: 'close', act: 'snd FIN', d: 'M 70 364 L 70 546', lx: 80, ly: 440, a: 'start' },
    { f: 'ESTABLISHED', t: 'FIN_WAIT1', ev: 'close', act: 'snd FIN', d: 'M 402 485 L 223 565', lx: 300, ly: 545, a: 'middle' },
    { f: 'ESTABLISHED', t: 'CLOSE_WAIT', ev: 'rcv FIN', act: 'snd ACK', d: 'M 598 485 L 777 565', lx: 700, ly: 545, a: 'middle' },
    { f: 'FIN_WAIT1', t: 'FIN_WAIT2', ev: 'rcv ACK of FIN', act: 'x', d: 'M 60 634 L 60 681', lx: 68, ly: 654, a: 'start' },
    { f: 'FIN_WAIT1', t: 'CLOSING', ev: 'rcv FIN', act: 'snd ACK', d: 'M 223 605 L 415 681', lx: 340, ly: 614, a: 'start' },
    { f: 'FIN_WAIT1', t: 'TIME_WAIT', ev: 'rcv FIN, ACK of FIN', act: 'snd ACK', d: 'M 200 634 C 300 700 300 800 402 845', lx: 232, ly: 790, a: 'start' },
    { f: 'FIN_WAIT2', t: 'TIME_WAIT', ev: 'rcv FIN', act: 'snd ACK', d: 'M 110 769 C 110 860 250 880 402 878', lx: 120, ly: 810, a: 'start' },
    { f: 'CLOSING', t: 'TIME_WAIT', ev: 'rcv ACK of FIN', act: 'x', d: 'M 500 769 L 500 816', lx: 508, ly: 788, a: 'start' },
    { f: 'CLOSE_WAIT', t: 'LAST_ACK', ev: 'close', act: 'snd FIN', d: 'M 875 634 L 875 681', lx: 883, ly: 654, a: 'start' },
    { f: 'LAST_ACK', t: 'CLOSE', ev: 'rcv ACK of FIN', act: 'x', d: 'M 875 769 L 875 816', lx: 883, ly: 788, a: 'start', to: 'CLOSE_END' },
    { f: 'TIME_WAIT', t: 'CLOSE', ev: 'timeout 2MSL', act: 'delete TCB', d: 'M 598 862 L 777 862', lx: 688, ly: 838, a: 'middle', to: 'CLOSE_END' },
  ];
  const edgeKey = (f, t) => f + '>' + t;
  const EDGE = {};
  for (const e of EDGES) EDGE[edgeKey(e.f, e.t)] = e;

  // ---------------------------------------------------------------- state of the page

  const S = {
    states: {}, // name -> {name, rfc, explain}
    addr: '',
    since: null, // next transitions number to ask after (null: first load)
    moves: {}, // 'F>T' -> count since start-up
    viewers: new Set(), // ids of connections that asked for this page or its data
    self: null,
    conns: [], // the rows of the latest /api/connections
    counts: {},
    nowUs: 0,
    clockAt: 0, // Date.now() when nowUs was read
    tokensShown: new Set(),
    paused: false,
    hideSelf: false,
    ladder: null, // {id, next, items: [], head}
    tableState: '',
    tableOffset: 0,
    tableRows: null,
    lastLadders: 0,
    instance: null, // the server's instance (process and start time): another one means a restart
    newInstance: null,
    pageOnly: false, // the server serves only this page (see notePage)
    pageConns: new Set(),
    ownMoves: {}, // 'F>T' -> changes of those connections the page saw, left out of the counts when hidden
  };

  // The server behind the address was replaced (each step of the tour runs a new process).
  class Restarted extends Error {}
  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store' });
    const body = await r.json().catch(() => ({ error: 'not JSON' }));
    if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), { status: r.status, body });
    if (body.instance) {
      if (S.instance === null) S.instance = body.instance;
      else if (body.instance !== S.instance) {
        S.newInstance = body.instance;
        throw new Restarted('a new server');
      }
    }
    return body;
  }
  function noteViewers(d) {
    for (const id of d.viewers || []) S.viewers.add(id);
    if (d.self) S.self = d.self;
  }
  // A server that serves nothing but this page (tapstack-sock --viz-port) has no other traffic on
  // the page's port: all of it is the page's own (its listener, a browser's spare connection that
  // never asked for anything), hidden with the viewers' and from the start.
  const pagePort = location.port || '80';
  function notePage(id, local) {
    if (S.pageOnly && local && local.endsWith(':' + pagePort)) S.pageConns.add(id);
  }
  const hidden = (id) => S.hideSelf && (S.viewers.has(id) || S.pageConns.has(id));
  // The stack's clock (microseconds) as this machine's wall-clock time.
  function wall(us) {
    const t = new Date(S.clockAt - (S.nowUs - us) / 1000);
    return t.toLocaleTimeString([], { hour12: false }) + '.' + String(t.getMilliseconds()).padStart(3, '0');
  }
  const shortLocal = (local) => (local.startsWith(S.addr + ':') ? local.slice(S.addr.length) : local);

  // ---------------------------------------------------------------- drawing the diagram

  const svg = $('diagram');
  let layerEdges, layerBoxes, layerTokens, layerAnim;

  function drawDiagram() {
    svg.textContent = '';
    const defs = sel('defs', {}, svg);
    for (const [id, cls] of [['head', ''], ['head-lit', '']]) {
      const m = sel('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: cls }, defs);
      sel('path', { d: 'M 0 0 L 10 5 L 0 10 z' }, m);
    }
    layerEdges = sel('g', { id: 'edges' }, svg);
    layerBoxes = sel('g', { id: 'boxes' }, svg);
    layerTokens = sel('g', { id: 'tokens' }, svg);
    layerAnim = sel('g', { id: 'anim' }, svg);
    for (const e of EDGES) {
      const g = sel('g', { class: 'edge never' + (e.rare ? ' rare' : ''), 'data-edge': edgeKey(e.f, e.t), 'data-label': `${e.ev} / ${e.act}` }, layerEdges);
      e.path = sel('path', { d: e.d }, g);
      const t = sel('text', { x: e.lx, y: e.ly, 'text-anchor': e.a }, g);
      sel('tspan', { x: e.lx, dy: 0 }, t, e.ev + ' /');
      const l2 = sel('tspan', { x: e.lx, dy: '1.15em' }, t, e.act + ' ');
      e.count = sel('tspan', { class: 'n' }, l2, '0×');
      sel('title', {}, g, `${e.f} → ${e.t === 'CLOSE' ? 'CLOSE' : e.t}: ${e.ev} / ${e.act}` + (e.rare ? ' (in the RFC; tapstack never sends a SYN from LISTEN)' : ''));
      e.g = g;
    }
    for (const name in BOX) {
      const st = name === 'CLOSE_END' ? 'CLOSE' : name;
      const [cx, cy] = BOX[name];
      const x = cx - BW / 2, y = cy - BH / 2;
      const g = sel('g', { class: 'state', 'data-state': st, 'data-box': name }, layerBoxes);
      sel('rect', { class: 'box', x, y, width: BW, height: BH, rx: 9 }, g);
      sel('text', { class: 'name', x: x + 10, y: y + 19 }, g, st);
      const info = S.states[st];
      sel('text', { class: 'rfc', x: x + 10, y: y + 33 }, g, info ? info.rfc : '');
      const c = sel('text', { class: 'count', x: x + BW - 10, y: y + 19, 'text-anchor': 'end' }, g, '');
      const o = sel('text', { class: 'other', x: x + BW - 10, y: y + 33, 'text-anchor': 'end' }, g, '');
      g.addEventListener('mouseenter', (ev) => showTip(ev, stateTip(st, name)));
      g.addEventListener('mousemove', moveTip);
      g.addEventListener('mouseleave', hideTip);
      BOX[name].g = g;
      BOX[name].countEl = c;
      BOX[name].otherEl = o;
    }
  }

  function stateTip(st, boxName) {
    const i = S.states[st] || { rfc: '', explain: '' };
    let s = `<b>${st}</b> (RFC 9293: ${i.rfc})<br>${esc(i.explain)}`;
    if (boxName === 'CLOSE') s += '<br><i>Top: where connections begin.</i>';
    if (boxName === 'CLOSE_END') s += '<br><i>Bottom: where connections end; the stack then frees them.</i>';
    const others = otherMoves().filter((m) => m.f === st);
    if (others.length) s += '<br>Left by routes the figure does not draw: ' + others.map((m) => `${m.t} ${m.n}×`).join(', ');
    return s;
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  }
  const tip = $('tip');
  function showTip(ev, html) {
    tip.innerHTML = html;
    tip.hidden = false;
    moveTip(ev);
  }
  function moveTip(ev) {
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + w > innerWidth - 4) x = ev.clientX - w - 10;
    if (y + h > innerHeight - 4) y = ev.clientY - h - 10;
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { tip.hidden = true; }

  function otherMoves() {
    const out = [];
    for (const k in S.moves) {
      const [f, t] = k.split('>');
      if (!EDGE[k] && f !== 'CLOSE' && moveCount(k)) out.push({ f, t, n: moveCount(k) });
    }
    return out;
  }

  // How often a transition happened since the server started, less the page's own (when hidden).
  const moveCount = (k) => Math.max(0, (S.moves[k] || 0) - (S.hideSelf ? S.ownMoves[k] || 0 : 0));
  function drawCounts() {
    for (const e of EDGES) {
      const n = moveCount(edgeKey(e.f, e.t));
      e.count.textContent = n + '×';
      e.g.classList.toggle('never', n === 0);
    }
    const other = {};
    for (const m of otherMoves()) other[m.f] = (other[m.f] || 0) + m.n;
    for (const name in BOX) {
      const st = name === 'CLOSE_END' ? 'CLOSE' : name;
      BOX[name].otherEl.textContent = other[st] && name !== 'CLOSE_END' ? `↯${other[st]}` : '';
    }
  }

  // ---------------------------------------------------------------- tokens

  function tokenLabel(r) {
    if (r.state === 'LISTEN') return '*:' + r.lport;
    return String(r.rport);
  }
  function drawTokens() {
    layerTokens.textContent = '';
    const byState = {};
    for (const r of S.conns) {
      if (hidden(r.id)) continue;
      (byState[r.state] = byState[r.state] || []).push(r);
    }
    const seen = new Set();
    let aggregated = false;
    for (const name in BOX) {
      if (name === 'CLOSE_END') continue; // a connection in CLOSE is drawn where it began
      const rows = byState[name] || [];
      let total = S.counts[name] || 0;
      if (S.hideSelf) total -= S.conns.filter((r) => r.state === name && hidden(r.id)).length;
      total = Math.max(total, rows.length);
      BOX[name].countEl.textContent = total ? String(total) : '';
      BOX[name].g.classList.toggle('has', total > 0);
      const shown = total > CAP ? rows.slice(0, CAP - 1) : rows.slice(0, CAP);
      const [cx, cy] = BOX[name];
      const x0 = cx - BW / 2 + 6, y0 = cy - BH / 2 + 41;
      shown.forEach((r, i) => {
        const g = sel('g', {
          class: 'token' + (S.viewers.has(r.id) ? ' self' : '') + (S.ladder && S.ladder.id === r.id ? ' sel' : '') + (S.tokensShown.has(r.id + r.state) ? '' : ' born'),
          'data-conn': r.id, 'data-state': r.state, 'data-tuple': `${r.local} ${r.remote}`,
          transform: `translate(${x0 + (i % 4) * 46.5},${y0 + Math.floor(i / 4) * 22})`,
        }, layerTokens);
        sel('rect', { width: 44, height: 18, rx: 8 }, g);
        sel('text', { x: 22, y: 13, 'text-anchor': 'middle' }, g, (S.viewers.has(r.id) ? '★' : '') + tokenLabel(r));
        g.addEventListener('click', () => openLadder(r.id));
        g.addEventListener('mouseenter', (ev) => showTip(ev, tokenTip(r)));
        g.addEventListener('mousemove', moveTip);
        g.addEventListener('mouseleave', hideTip);
        seen.add(r.id + r.state);
      });
      if (total > shown.length) {
        aggregated = true;
        const i = shown.length;
        const g = sel('g', { class: 'token agg', 'data-state': name, 'data-more': total - shown.length, transform: `translate(${x0 + (i % 4) * 46.5},${y0 + Math.floor(i / 4) * 22})` }, layerTokens);
        sel('rect', { width: 44, height: 18, rx: 8 }, g);
        sel('text', { x: 22, y: 13, 'text-anchor': 'middle' }, g, '+' + (total - shown.length));
        g.addEventListener('click', () => { $('table-state').value = name; S.tableState = name; S.tableOffset = 0; refreshTable(); });
        g.addEventListener('mouseenter', (ev) => showTip(ev, `${total - shown.length} more connections in ${name}: click to list them in the table`));
        g.addEventListener('mousemove', moveTip);
        g.addEventListener('mouseleave', hideTip);
      }
    }
    S.tokensShown = seen;
    $('cap-note').textContent = aggregated
      ? `A box shows at most ${CAP} connections; where there are more, its last token counts the rest (click it to list them).`
      : `Each token is a connection (the peer's port; hover for its 4-tuple, click for its ladder). A box shows at most ${CAP}, then counts the rest.`;
  }
  function tokenTip(r) {
    let s = `<b>${esc(r.local)} ⇄ ${esc(r.remote)}</b><br>connection ${r.id}, ${r.state} for ${dur(r.state_age_us)}`;
    if (r.timer && r.timer !== '-') s += `<br>timer: ${r.timer} ${dur(r.timer_us)} left`;
    if (r.state !== 'LISTEN') s += `<br>bytes in ${r.bytes_received}, out ${r.bytes_sent}`;
    if (S.viewers.has(r.id)) s += '<br>★ this page\'s own connection' + (r.id === S.self ? ' (it carried the latest update)' : '');
    return s + '<br><i>click for its segment ladder</i>';
  }

  // ---------------------------------------------------------------- animations

  function pointsOf(e) {
    const p = e.path, len = p.getTotalLength();
    return (t) => p.getPointAtLength(t * len);
  }
  function lineOf(a, b) {
    const [x1, y1] = BOX[a], [x2, y2] = BOX[b];
    return (t) => ({ x: x1 + (x2 - x1) * t, y: y1 + (y2 - y1) * t });
  }
  function animate(ev, delay) {
    const key = edgeKey(ev.from, ev.to);
    const e = EDGE[key];
    setTimeout(() => {
      let along, line = null;
      if (e) {
        e.g.classList.add('lit');
        setTimeout(() => e.g.classList.remove('lit'), 1400);
        along = pointsOf(e);
      } else {
        const to = ev.to === 'CLOSE' ? 'CLOSE_END' : ev.to;
        if (!BOX[ev.from] || !BOX[to]) return;
        along = lineOf(ev.from, to);
        const [x1, y1] = BOX[ev.from], [x2, y2] = BOX[to];
        line = sel('line', { class: 'abort-line', x1, y1, x2, y2 }, layerAnim);
      }
      const g = sel('g', { class: 'token mover' + (S.viewers.has(ev.conn_id) ? ' self' : '') }, layerAnim);
      sel('rect', { x: -22, y: -9, width: 44, height: 18, rx: 8 }, g);
      sel('text', { x: 0, y: 4, 'text-anchor': 'middle' }, g, String(ev.rport));
      const t0 = performance.now(), T = 900;
      const step = (now) => {
        const t = Math.min(1, (now - t0) / T);
        const p = along(t);
        g.setAttribute('transform', `translate(${p.x},${p.y})`);
        if (t < 1) requestAnimationFrame(step);
        else {
          g.remove();
          if (line) line.remove();
        }
      };
      requestAnimationFrame(step);
    }, delay);
  }

  // ---------------------------------------------------------------- transitions

  const transBody = $('transitions').querySelector('tbody');
  function addTransitions(events, animateThem) {
    const frag = document.createDocumentFragment();
    const chain = {};
    let animated = 0, skipped = 0;
    const fresh = [];
    for (const ev of events) {
      notePage(ev.conn_id, ev.local);
      if (S.pageConns.has(ev.conn_id)) S.ownMoves[edgeKey(ev.from, ev.to)] = (S.ownMoves[edgeKey(ev.from, ev.to)] || 0) + 1;
    }
    for (const ev of events.slice(-LIST_MAX)) {
      const tr = el('tr', { 'data-conn': ev.conn_id, 'data-seq': ev.seq, 'data-from': ev.from, 'data-to': ev.to, class: animateThem ? 'fresh' : null });
      if (S.viewers.has(ev.conn_id)) tr.classList.add('self');
      el('td', {}, tr, wall(ev.time_us));
      el('td', { title: `connection ${ev.conn_id}` }, tr, `${shortLocal(ev.local)} ⇄ ${ev.remote}`);
      const td = el('td', {}, tr, `${ev.from} → `);
      el('b', {}, td, ev.to);
      el('td', {}, tr, ev.cause);
      el('td', {}, tr, ms(ev.in_from_us));
      tr.addEventListener('click', () => openLadder(ev.conn_id));
      if (hidden(ev.conn_id)) tr.hidden = true;
      frag.insertBefore(tr, frag.firstChild);
      if (animateThem && !hidden(ev.conn_id)) fresh.push(ev);
    }
    transBody.insertBefore(frag, transBody.firstChild);
    while (transBody.rows.length > LIST_MAX) transBody.deleteRow(-1);
    if (document.hidden) return;
    // The newest MAX_ANIM travel; one connection's changes one after the other.
    for (const ev of fresh.slice(-MAX_ANIM)) {
      const k = chain[ev.conn_id] = (chain[ev.conn_id] || 0) + 1;
      animate(ev, (k - 1) * 750);
      animated++;
    }
    skipped = fresh.length - animated;
    if (skipped > 0) $('trans-note').textContent = `(${fresh.length} in the last update; the newest ${animated} animated)`;
  }
  function applyHide() {
    for (const tr of transBody.rows) tr.hidden = hidden(+tr.dataset.conn);
    drawCounts();
    drawTokens();
    renderTable();
  }

  async function pollTransitions() {
    const first = S.since === null;
    if (first) {
      // Where the trace stands (a since past its end answers nothing but that), then the
      // latest 200 before this page opened.
      const d0 = await getJSON('/api/transitions?since=18446744073709551615&max=1');
      S.since = Math.max(0, d0.last - 200);
    }
    const d = await getJSON(`/api/transitions?since=${S.since}&max=${first ? 200 : 1000}`);
    S.nowUs = d.now_us;
    S.clockAt = Date.now();
    noteViewers(d);
    S.moves = {};
    for (const m of d.moves) S.moves[edgeKey(m.from, m.to)] = m.n;
    if (d.lost && !first) $('trans-note').textContent = `(${d.lost} changes came and went between two looks; their counts are in the diagram)`;
    else if (first) $('trans-note').textContent = d.events.length ? `(the latest ${d.events.length} before this page opened, then live)` : '(live)';
    addTransitions(d.events, !first);
    drawCounts();
    S.since = d.next;
  }

  // ---------------------------------------------------------------- connections and the table

  async function pollConnections() {
    const d = await getJSON(`/api/connections?per_state=${CAP}&limit=1000`);
    noteViewers(d);
    for (const r of d.sockets.tcp) notePage(r.id, r.local);
    S.conns = d.sockets.tcp;
    S.counts = d.counts;
    S.total = d.total;
    drawTokens();
    if (!S.tableState) S.tableRows = { rows: S.conns, matched: d.matched, offset: 0 };
    renderTable();
    $('status').classList.remove('bad');
    $('status').textContent = `${d.total} TCP sockets · updated ${new Date().toLocaleTimeString([], { hour12: false })}` + (S.paused ? ' · paused' : '');
  }
  async function refreshTable() {
    if (!S.tableState) {
      S.tableRows = { rows: S.conns, matched: S.conns.length, offset: 0 };
    } else {
      const d = await getJSON(`/api/connections?state=${S.tableState}&offset=${S.tableOffset}&limit=100`);
      noteViewers(d);
      for (const r of d.sockets.tcp) notePage(r.id, r.local);
      S.tableRows = { rows: d.sockets.tcp, matched: d.matched, offset: d.offset };
    }
    renderTable();
  }
  const connsBody = $('conns').querySelector('tbody');
  function renderTable() {
    const t = S.tableRows;
    if (!t) return;
    connsBody.textContent = '';
    let skipped = 0;
    for (const r of t.rows) {
      if (hidden(r.id)) {
        skipped++;
        continue;
      }
      const tr = el('tr', { 'data-conn': r.id, class: S.viewers.has(r.id) ? 'self' : null, title: (S.states[r.state] || {}).explain }, connsBody);
      const listen = r.state === 'LISTEN';
      const cells = [r.state, r.local, r.remote, r.recv_q, r.send_q, dur(r.state_age_us),
        r.timer && r.timer !== '-' ? `${r.timer} ${dur(r.timer_us)}` : '-',
        listen ? '' : ms(r.srtt_us), listen ? '' : ms(r.rto_us), listen ? '' : r.cwnd,
        listen ? '' : `${r.snd_una}/${r.snd_nxt}`, listen ? '' : `${r.rcv_nxt}/${r.rcv_wnd}`,
        listen ? '' : `${r.bytes_received}/${r.bytes_sent}`, listen ? '' : r.retransmits];
      for (const c of cells) el('td', {}, tr, String(c));
      if (!listen) tr.addEventListener('click', () => openLadder(r.id));
    }
    const from = t.rows.length ? t.offset + 1 : 0;
    $('page-info').textContent = (S.tableState ? ` ${from}–${t.offset + t.rows.length} of ${t.matched} ` : ` ${t.rows.length} of ${S.total || 0} `) +
      (skipped ? `(${skipped} of them the page's own, hidden) ` : '');
    $('prev-page').disabled = !S.tableState || t.offset === 0;
    $('next-page').disabled = !S.tableState || t.offset + t.rows.length >= t.matched;
  }

  // ---------------------------------------------------------------- the ladder

  async function pollLadders() {
    const d = await getJSON('/api/ladders?max=100');
    const pick = $('ladder-pick');
    const cur = pick.value;
    pick.textContent = '';
    el('option', { value: '' }, pick, 'choose a connection…');
    for (const l of d.ladders) {
      notePage(l.conn_id, l.local);
      if (hidden(l.conn_id)) continue;
      el('option', { value: l.conn_id }, pick, `${l.conn_id}: ${shortLocal(l.local)} ⇄ ${l.remote} ${l.state}${l.ended ? ' (ended)' : ''}${S.viewers.has(l.conn_id) ? ' ★' : ''}`);
    }
    pick.value = S.ladder ? String(S.ladder.id) : cur;
    S.lastLadders = Date.now();
  }
  function openLadder(id) {
    S.ladder = { id, next: 0, items: [], head: null, gap: 0 };
    $('ladder-note').textContent = 'loading…';
    $('ladder-pick').value = String(id);
    drawTokens();
    pollLadder().then(() => $('ladder-pane').scrollIntoView({ behavior: 'smooth', block: 'nearest' }))
      .catch((e) => { if (!(e instanceof Restarted)) showError(e); }); // a restart: the next tick's
  }
  async function pollLadder() {
    const L = S.ladder;
    if (!L) return;
    const since = L.next;
    let d;
    try {
      d = await getJSON(`/api/segments?conn=${L.id}&since=${since}`);
    } catch (e) {
      if (e.status === 404) {
        $('ladder-note').textContent = e.message;
        $('ladder-title').textContent = `connection ${L.id}`;
        $('ladder').setAttribute('height', 10);
        $('ladder').textContent = '';
        return;
      }
      throw e;
    }
    // Another poll of the same ladder (a click during the loop's) may have added these already.
    if (S.ladder !== L || L.next !== since) return;
    if (d.lost) L.items.push({ kind: 'gap', n: d.first - 1, lost: d.lost });
    L.items.push(...d.list);
    if (L.items.length > LADDER_MAX) {
      const cut = L.items.length - LADDER_MAX;
      L.items.splice(0, cut, { kind: 'gap', lost: cut });
    }
    L.next = d.next;
    L.head = d;
    $('ladder-title').textContent = `connection ${d.conn_id}: ${d.local} ⇄ ${d.remote}, ${d.state}${d.ended ? ' (ended)' : ''}${S.viewers.has(d.conn_id) ? ' ★ this page' : ''}`;
    $('ladder-note').textContent = d.items
      ? `${d.items} items so far; the server keeps the last ${d.items > d.last - d.first + 1 ? d.last - d.first + 1 : 128}. Seq and Ack are relative to each side's ISN` + (d.iss_syn && d.irs_syn ? '.' : ' (no SYN seen one way: counted from its first segment).') + ' The peer\'s states are inferred from the segments.'
      : 'No segments yet.';
    if (d.list.length || !$('ladder').childNodes.length) drawLadder(L);
  }

  // The peer's state, inferred from the segments (RFC 9293 3.10): what it sends says where it
  // is, and a SYN or FIN of ours changes it when it arrives, which the peer's acknowledgment of
  // it shows; an ACK of its SYN or FIN and a RST of ours are taken to arrive at once. Returns,
  // per segment, the peer's state at that row and the changes inferred there.
  function inferPeer(items) {
    const out = new Map();
    let st = null, peerFin = null;
    // Our SYN answered by a bare SYN of the peer: a simultaneous open, the peer was connecting too.
    const firstIn = items.find((i) => i.kind === 'segment' && i.dir === 'in');
    const crossed = firstIn && firstIn.flags === 'SYN';
    let pending = []; // our SYN/FIN in flight: {end (the ack that covers it), apply}
    const to = (changes, next) => {
      if (next && next !== st) {
        changes.push(next);
        st = next;
      }
    };
    for (const it of items) {
      if (it.kind !== 'segment') continue;
      const f = it.flags.split(','), has = (x) => f.includes(x);
      if (st === null) { // where the peer stood when this ladder began
        if (has('SYN') && !has('ACK')) st = it.dir === 'in' ? 'CLOSE' : crossed ? 'SYN_SENT' : 'LISTEN';
        else if (it.state === 'ESTABLISHED' || it.state === 'SYN_RECV') st = 'ESTABLISHED';
        else st = '?';
      }
      const changes = [];
      if (it.dir === 'in') {
        // A SYN says where the peer was when it sent it (before our segments it acknowledges
        // arrived: in a simultaneous open its SYN-ACK leaves SYN_RECV, then ours makes it
        // ESTABLISHED).
        if (has('SYN') && !has('RST')) to(changes, has('ACK') ? 'SYN_RECV' : 'SYN_SENT');
        // Our segments it acknowledges have arrived.
        if (has('ACK') && it.ack !== null) {
          const done = pending.filter((p) => it.ack >= p.end);
          pending = pending.filter((p) => it.ack < p.end);
          for (const p of done) to(changes, p.apply(st));
        }
        if (has('RST')) to(changes, 'CLOSE');
        if (has('FIN')) {
          peerFin = it.seq + it.len;
          if (st === 'ESTABLISHED' || st === 'SYN_RECV') to(changes, 'FIN_WAIT1');
          else if (st === 'CLOSE_WAIT') to(changes, 'LAST_ACK');
        }
        out.set(it.n, { state: st, changes });
      } else {
        const before = st;
        if (has('RST')) to(changes, 'CLOSE');
        else if (has('ACK') && st === 'SYN_RECV' && !has('SYN')) to(changes, 'ESTABLISHED');
        if (has('ACK') && peerFin !== null && it.ack >= peerFin + 1) {
          // Our FIN still unacknowledged left before this ACK, so it arrives first: FINs that
          // crossed (a simultaneous close) take the peer to CLOSING, and this ACK to TIME_WAIT.
          for (const p of pending.filter((q) => q.fin)) to(changes, p.apply(st));
          pending = pending.filter((q) => !q.fin);
          if (st === 'FIN_WAIT1') to(changes, 'FIN_WAIT2');
          else if (st === 'CLOSING') to(changes, 'TIME_WAIT');
          else if (st === 'LAST_ACK') to(changes, 'CLOSE');
        }
        if (has('SYN')) {
          const end = it.seq + 1;
          pending.push({ end, apply: (s) => (has('ACK') ? (s === 'SYN_SENT' || s === 'SYN_RECV' ? 'ESTABLISHED' : s) : s === 'LISTEN' || s === 'SYN_SENT' ? 'SYN_RECV' : s) });
        }
        if (has('FIN')) {
          const end = it.seq + it.len + 1;
          pending.push({ end, fin: true, apply: (s) => ({ ESTABLISHED: 'CLOSE_WAIT', SYN_RECV: 'CLOSE_WAIT', FIN_WAIT1: 'CLOSING', FIN_WAIT2: 'TIME_WAIT' }[s] || s) });
        }
        out.set(it.n, { state: before, changes });
      }
    }
    return out;
  }

  function drawLadder(L) {
    const g = $('ladder');
    g.textContent = '';
    const W = 960, XT = 0, XO = 190, XL = 205, XR = 745, XP = 760;
    const defs = sel('defs', {}, g);
    for (const id of ['lhead-out', 'lhead-in']) {
      const m = sel('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' }, defs);
      sel('path', { d: 'M 0 0 L 10 5 L 0 10 z' }, m);
    }
    const h = L.head;
    sel('text', { class: 'head', x: XL, y: 16, 'text-anchor': 'middle' }, g, `tapstack ${h.local}`);
    sel('text', { class: 'head', x: XR, y: 16, 'text-anchor': 'middle' }, g, `peer ${h.remote}`);
    sel('text', { class: 'time', x: XT, y: 16 }, g, 'time');
    sel('text', { class: 'time', x: XO, y: 32, 'text-anchor': 'end' }, g, 'tapstack state');
    sel('text', { class: 'time', x: XP, y: 32 }, g, 'peer state (inferred)');
    const peer = inferPeer(L.items);
    const t0 = L.items.find((i) => i.time_us !== undefined);
    const base = t0 ? t0.time_us : 0;
    let y = 44;
    const rows = sel('g', {}, g);
    let prevOurs = null, prevPeer = null;
    const byN = new Map();
    for (const it of L.items) {
      if (it.kind === 'gap') {
        const r = sel('g', { class: 'gap' }, rows);
        sel('text', { x: (XL + XR) / 2, y: y + 14, 'text-anchor': 'middle' }, r, `… ${it.lost} earlier items not kept …`);
        y += 22;
        continue;
      }
      if (it.kind === 'state') {
        const r = sel('g', { class: 'chg', 'data-n': it.n, 'data-to': it.to, 'data-by': it.by || '' }, rows);
        sel('rect', { x: XO - 120, y: y + 1, width: XR - XO + 118, height: 18, rx: 4 }, r);
        sel('text', { class: 'time', x: XT, y: y + 14 }, r, '+' + ms(it.time_us - base));
        sel('text', { x: XL + 8, y: y + 14 }, r, `${it.from} → ${it.to}  (${it.cause}, after ${ms(it.in_from_us)} in ${it.from})`);
        r.addEventListener('mouseenter', () => hl(it.by, true));
        r.addEventListener('mouseleave', () => hl(it.by, false));
        byN.set(it.n, r);
        prevOurs = it.to;
        y += 22;
        continue;
      }
      const out = it.dir === 'out';
      const p = peer.get(it.n) || {};
      const r = sel('g', { class: `seg ${it.dir}` + (it.flags.includes('RST') ? ' rst' : ''), 'data-n': it.n, 'data-flags': it.flags, 'data-dir': it.dir }, rows);
      sel('text', { class: 'time', x: XT, y: y + 22 }, r, '+' + ms(it.time_us - base));
      sel('text', { class: 'ours' + (it.state !== prevOurs ? ' changed' : ''), x: XO, y: y + 22, 'text-anchor': 'end' }, r, it.state);
      prevOurs = it.state;
      const ps = p.state || '?';
      sel('text', { class: 'peer' + (ps !== prevPeer ? ' changed' : ''), x: XP, y: y + 22 }, r, ps);
      prevPeer = out && p.changes && p.changes.length ? p.changes[p.changes.length - 1] : ps;
      const [x1, x2] = out ? [XL, XR] : [XR, XL];
      sel('line', { x1, y1: y + 12, x2, y2: y + 30 }, r);
      const flags = it.flags.replace(/,/g, ', ');
      const ack = it.ack === null ? '' : ` Ack=${it.ack}`;
      sel('text', { class: 'lbl', x: (XL + XR) / 2, y: y + 14, 'text-anchor': 'middle' }, r,
        `[${flags}] Seq=${it.seq}${ack} Win=${it.win} Len=${it.len}${it.opts ? ' ' + it.opts : ''}`);
      if (!out && it.caused && it.caused.length) {
        const names = it.caused.map((n) => (L.items.find((x) => x.n === n) || {}).to).filter(Boolean);
        sel('text', { class: 'caused', x: XL + 8, y: y + 42 }, r, '⇒ ' + names.join(' ⇒ '));
      }
      const pch = p.changes || [];
      if (out && pch.length) sel('text', { class: 'caused', x: XR - 8, y: y + 42, 'text-anchor': 'end' }, r, `⇒ ${pch.join(' ⇒ ')} (inferred)`);
      if (!out && pch.length) sel('text', { class: 'caused', x: XP, y: y + 38 }, r, `⇒ ${pch.join(' ⇒ ')}`);
      r.addEventListener('mouseenter', () => (it.caused || []).forEach((n) => hlState(n, true)));
      r.addEventListener('mouseleave', () => (it.caused || []).forEach((n) => hlState(n, false)));
      byN.set(it.n, r);
      y += (it.caused && it.caused.length) || pch.length ? 48 : 36;
    }
    function hl(n, on) { const e = byN.get(n); if (e) e.classList.toggle('hl', on); }
    function hlState(n, on) { const e = byN.get(n); if (e) e.classList.toggle('hl', on); }
    sel('line', { class: 'life', x1: XL, y1: 24, x2: XL, y2: y + 4 }, g, undefined);
    sel('line', { class: 'life', x1: XR, y1: 24, x2: XR, y2: y + 4 }, g, undefined);
    g.insertBefore(g.lastChild, rows);
    g.insertBefore(g.lastChild, rows);
    g.setAttribute('height', y + 10);
    g.setAttribute('width', W);
    // Follow new segments at the bottom, once the reader is there (not on the first drawing,
    // which starts at the top with the handshake).
    const wrap = $('ladder-wrap');
    if (L.drawn && wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 120) wrap.scrollTop = wrap.scrollHeight;
    L.drawn = true;
  }

  // ---------------------------------------------------------------- the loop

  function showError(e) {
    $('status').classList.add('bad');
    $('status').textContent = `the server did not answer (${e.message}); trying again`;
  }
  async function tick() {
    if (!S.paused) {
      try {
        await pollTransitions();
        await pollConnections();
        if (S.tableState) await refreshTable();
        if (S.ladder) await pollLadder();
        if (Date.now() - S.lastLadders > 3000) await pollLadders();
      } catch (e) {
        if (e instanceof Restarted) await restart().catch(showError);
        else showError(e);
      }
    }
    setTimeout(tick, POLL_MS);
  }

  // What the server says about itself: its address, its program and title, the states' texts.
  async function loadServer() {
    const d = await getJSON('/api/states');
    for (const s of d.states) S.states[s.name] = s;
    S.addr = d.address;
    S.server = d;
    $('addr').textContent = d.address;
    $('title').textContent = d.title ? '· ' + d.title : '';
    document.title = 'TCP live on tapstack' + (d.title ? ' · ' + d.title : '');
    // The table page and the counters are tapstack-httpd's; another program serves this page only.
    const httpd = !d.program || d.program === 'tapstack-httpd';
    $('link-table').hidden = !httpd;
    $('link-stats').hidden = !httpd;
    if (!httpd && !S.pageOnly) { // its own traffic hidden from the start (the box unticks it)
      S.hideSelf = true;
      $('hide-self').checked = true;
    }
    S.pageOnly = !httpd;
    return d;
  }

  // Another server now answers at this address: forget the old one's connections, counts and
  // transitions, and read the new one's trace from its beginning (animated: it is recent).
  async function restart() {
    S.instance = S.newInstance;
    const d = await loadServer();
    S.since = 0;
    S.moves = {};
    S.viewers = new Set();
    S.pageConns = new Set();
    S.ownMoves = {};
    S.self = null;
    S.conns = [];
    S.counts = {};
    S.total = 0;
    S.tokensShown = new Set();
    transBody.textContent = '';
    $('trans-note').textContent = '(live, since the new server started)';
    if (S.tableState) S.tableOffset = 0;
    S.tableRows = { rows: [], matched: 0, offset: 0 };
    renderTable();
    if (S.ladder) {
      $('ladder-note').textContent = `This ladder is the previous server's: that process has ended, and its ladders with it. Choose a connection of the new server to see its segments.`;
      S.ladder = null;
    }
    S.lastLadders = 0;
    drawCounts();
    drawTokens();
    const when = new Date(d.started_ms).toLocaleTimeString([], { hour12: false });
    const note = $('server-note');
    note.hidden = false;
    note.textContent = `A new server answers here: ${d.program || 'a program'}${d.title ? ' (' + d.title + ')' : ''}, started ${when}. The page started afresh with its connections, counts and transitions.`;
    note.dataset.instance = S.instance;
  }

  async function start() {
    try {
      const d = await loadServer();
      document.querySelectorAll('.cap').forEach((e) => { e.textContent = CAP; });
      const ts = $('table-state');
      for (const s of d.states) el('option', { value: s.name }, ts, `all in ${s.name}`);
    } catch (e) {
      if (e instanceof Restarted) S.instance = S.newInstance; // not started yet: nothing to forget
      showError(e);
      setTimeout(start, 2000);
      return;
    }
    drawDiagram();
    $('pause').addEventListener('click', () => {
      S.paused = !S.paused;
      $('pause').textContent = S.paused ? 'Resume' : 'Pause';
    });
    $('hide-self').addEventListener('change', (e) => { S.hideSelf = e.target.checked; applyHide(); });
    $('table-state').addEventListener('change', (e) => { S.tableState = e.target.value; S.tableOffset = 0; refreshTable().catch(showError); });
    $('prev-page').addEventListener('click', () => { S.tableOffset = Math.max(0, S.tableOffset - 100); refreshTable().catch(showError); });
    $('next-page').addEventListener('click', () => { S.tableOffset += 100; refreshTable().catch(showError); });
    $('ladder-pick').addEventListener('change', (e) => { if (e.target.value) openLadder(+e.target.value); });
    const want = new URLSearchParams(location.search).get('conn');
    if (want) openLadder(+want);
    tick();
  }
  start();
})();
