/**
 * The console's browser script (plain ES2020, no framework, no CDN). Everything a user or a hold
 * supplied is put on the page with `textContent`, never as HTML. Rows are updated in place, keyed
 * by hold id, so an approver typing a comment keeps it while another approver acts; changes arrive
 * over the admin API's event stream (read with fetch, which, unlike EventSource, can send the
 * bearer token). Signed in through the identity provider, the browser holds only an HttpOnly
 * session cookie; the script sends the session's CSRF token (from /console/session) with each call.
 */

export const CONSOLE_JS = String.raw`'use strict';
(function () {
  var TOKEN_KEY = 'regate.console.token';
  var token = sessionStorage.getItem(TOKEN_KEY) || '';
  var csrf = '';
  var clockSkew = 0;
  var streamAbort = null;
  var me = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function say(message, isError) {
    var s = $('status');
    s.textContent = message;
    s.className = isError ? 'error' : '';
  }
  function duration(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 120) return s + ' s';
    var m = Math.round(s / 60);
    if (m < 120) return m + ' min';
    return Math.round(m / 60) + ' h';
  }
  function serverNow() { return Date.now() + clockSkew; }

  function signedIn() { return !!(token || csrf); }
  /** The pasted bearer token, or else the session's CSRF token (the cookie goes by itself). */
  function credentials() { return token ? { authorization: 'Bearer ' + token } : { 'x-csrf-token': csrf }; }

  async function api(method, path, body) {
    var headers = Object.assign(credentials(), { accept: 'application/json' });
    var init = { method: method, headers: headers, cache: 'no-store' };
    if (body !== undefined) { headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    var res = await fetch(path, init);
    var data = await res.json().catch(function () { return {}; });
    if (res.status === 401) { signOut(); throw new Error('Your sign-in was refused or has expired; sign in again.'); }
    if (!res.ok) throw new Error(data.message || ('HTTP ' + res.status));
    if (typeof data.now_ms === 'number') clockSkew = data.now_ms - Date.now();
    return data;
  }

  function holdRow(hold) {
    var tr = el('tr');
    tr.dataset.holdId = hold.id;
    tr.append(el('td', hold.id, 'hold-id'), el('td', hold.requester.sub, 'requester'), el('td', hold.requester.groups.join(', '), 'groups'),
      el('td', hold.method + ' ' + hold.path + ' (route ' + hold.route + ')', 'request'),
      el('td', hold.spec.reason, 'reason'), el('td', hold.summary, 'summary'), el('td', '', 'approvals'),
      el('td', '', 'age'), el('td', '', 'client'), el('td', '', 'expires'));
    var decision = el('td', null, 'decision');
    // A requester follows their own hold here but never decides it (the API refuses it too).
    if (me && hold.requester.sub === me.sub && hold.requester.iss === me.iss) {
      decision.append(el('span', 'Your request: waiting for an approver', 'own'));
      tr.append(decision);
      return tr;
    }
    var comment = el('input', null, 'comment');
    comment.placeholder = 'Comment or reason';
    comment.setAttribute('aria-label', 'Comment or reason for hold ' + hold.id);
    decision.append(comment);
    var grant = null;
    if (hold.spec.max_grant_seconds) {
      grant = el('input', null, 'grant-minutes');
      grant.type = 'number';
      grant.min = '1';
      grant.max = String(Math.floor(hold.spec.max_grant_seconds / 60));
      grant.placeholder = 'Grant minutes (max ' + grant.max + ')';
      grant.setAttribute('aria-label', 'Just-in-time grant in minutes for hold ' + hold.id);
      decision.append(grant);
    }
    var approve = el('button', 'Approve', 'approve');
    var deny = el('button', 'Deny', 'deny');
    approve.type = deny.type = 'button';
    approve.addEventListener('click', function () {
      var body = { comment: comment.value };
      if (grant && grant.value) body.grant_seconds = Math.round(Number(grant.value) * 60);
      act(hold.id, 'approve', body);
    });
    deny.addEventListener('click', function () {
      if (!comment.value.trim()) { say('Give a reason to deny hold ' + hold.id + '.', true); comment.focus(); return; }
      act(hold.id, 'deny', { reason: comment.value });
    });
    decision.append(approve, deny);
    tr.append(decision);
    return tr;
  }

  function updateHoldRow(tr, hold) {
    tr.hold = hold;
    tr.querySelector('.approvals').textContent = hold.approvals.length + ' of ' + hold.approvals_required +
      (hold.approvals.length ? ' (' + hold.approvals.map(function (a) { return a.by.sub; }).join(', ') + ')' : '');
    tick(tr);
  }

  function tick(tr) {
    var hold = tr.hold;
    if (!hold) return;
    tr.querySelector('.age').textContent = duration(serverNow() - hold.created_at_ms);
    tr.querySelector('.expires').textContent = duration(hold.expires_at_ms - serverNow());
    var left = hold.client ? hold.client.gives_up_at_ms - serverNow() : 0;
    tr.querySelector('.client').textContent = hold.client && hold.client.waiting && left > 0
      ? 'waiting, gives up in ' + duration(left)
      : 'gone: an approval lets the same request through once';
  }

  function renderHolds(holds) {
    var body = $('holds').tBodies[0];
    var rows = {};
    Array.prototype.forEach.call(body.rows, function (tr) { rows[tr.dataset.holdId] = tr; });
    holds.forEach(function (hold) {
      var tr = rows[hold.id];
      if (!tr) { tr = holdRow(hold); body.append(tr); }
      delete rows[hold.id];
      updateHoldRow(tr, hold);
    });
    Object.keys(rows).forEach(function (id) { rows[id].remove(); });
    // "No pending holds" only once signed in: before, the list is unknown, not empty.
    $('holds-empty').hidden = !signedIn() || holds.length > 0;
    $('holds-signed-out').hidden = signedIn();
  }

  function renderGrants(grants) {
    var body = $('grants').tBodies[0];
    body.replaceChildren();
    grants.forEach(function (g) {
      var tr = el('tr');
      tr.dataset.grantId = g.id;
      var revoke = el('button', 'Revoke', 'revoke');
      revoke.type = 'button';
      revoke.addEventListener('click', function () { actGrant(g.id); });
      var cell = el('td');
      cell.append(revoke);
      tr.append(el('td', g.subject.sub), el('td', g.route), el('td', g.approvers.join(', ')),
        el('td', duration(g.expires_at_ms - serverNow())), cell);
      body.append(tr);
    });
    $('grants-empty').hidden = !signedIn() || grants.length > 0;
  }

  async function refresh() {
    try {
      if (!me) await whoami();
      var holds = await api('GET', '/api/holds?state=pending');
      renderHolds(holds.holds);
      var grants = await api('GET', '/api/grants');
      renderGrants(grants.grants);
    } catch (err) { say(err.message, true); }
  }

  async function act(id, action, body) {
    try {
      var hold = await api('POST', '/api/holds/' + encodeURIComponent(id) + '/' + action, body);
      say('Hold ' + id + ' ' + (hold.state === 'pending' ? 'has your approval; more are needed' : 'is ' + hold.state) + '.');
      await refresh();
    } catch (err) { say(err.message, true); }
  }

  async function actGrant(id) {
    try {
      await api('POST', '/api/grants/' + encodeURIComponent(id) + '/revoke', {});
      say('Grant ' + id + ' revoked.');
      await refresh();
    } catch (err) { say(err.message, true); }
  }

  async function listen() {
    while (signedIn()) {
      var controller = new AbortController();
      streamAbort = controller;
      try {
        var res = await fetch('/api/holds/events', { headers: credentials(), signal: controller.signal });
        if (!res.ok || !res.body) throw new Error('event stream refused: HTTP ' + res.status);
        var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        var buffer = '';
        for (;;) {
          var next = await reader.read();
          if (next.done) break;
          buffer += next.value;
          var cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            var event = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (/^event: change$/m.test(event)) await refresh();
          }
        }
      } catch (err) {
        if (controller.signal.aborted) return;
      }
      await new Promise(function (r) { setTimeout(r, 2000); });
      await refresh();
    }
  }

  function auditRow(r) {
    var e = r.event;
    var tr = el('tr');
    tr.dataset.seq = String(r.seq);
    var request = el('td');
    if (e.request_id) {
      var open = el('button', e.request_id, 'replay');
      open.type = 'button';
      open.addEventListener('click', function () { showExchange(e.request_id); });
      request.append(open);
    }
    tr.append(el('td', r.seq), el('td', r.ts), el('td', e.type), el('td', e.subject || e.actor || ''), el('td', e.route || ''),
      el('td', e.decision ? e.decision.effect : ''), request);
    return tr;
  }

  async function searchAudit() {
    var form = $('audit-search');
    var params = new URLSearchParams();
    ['subject', 'route', 'decision'].forEach(function (k) { if (form.elements[k].value) params.set(k, form.elements[k].value); });
    ['from', 'to'].forEach(function (k) { if (form.elements[k].value) params.set(k, new Date(form.elements[k].value).toISOString()); });
    try {
      var data = await api('GET', '/api/audit/records?' + params.toString());
      $('audit-records').tBodies[0].replaceChildren.apply($('audit-records').tBodies[0], data.records.map(auditRow));
      say(data.records.length + ' records found.');
    } catch (err) { say(err.message, true); }
  }

  // Why: the policy rules behind a decision, and both sides of a shadow disagreement, above the record.
  function why(e) {
    var rules = function (d) { return d.rules && d.rules.length ? ' [' + d.rules.join(', ') + ']' : ''; };
    if (e.type === 'policy.shadow_disagreement') return '\nshadow disagrees (' + e.kind + '): enforced ' + e.enforced.effect + rules(e.enforced) + ', shadow ' + e.shadow.effect + rules(e.shadow);
    return e.decision && e.decision.rules && e.decision.rules.length ? '\nwhy: ' + e.decision.effect + ' by ' + e.decision.rules.join(', ') : '';
  }

  /**
   * What one record of an exchange says, as a line a person reads. An exchange's timeline is its
   * whole story (the held request, its hold and approvers, the grant, the retry the approval let
   * through), so request lines name their request and approval lines their hold or grant.
   */
  function headline(e) {
    var who = function () { return e.actor ? e.actor.sub : 'the clock'; };
    var of = function (id) { return ' (request ' + id + ')'; };
    var via = function () {
      if (!e.approval) return '';
      return e.decision.effect === 'hold' ? ', held as ' + e.approval : ', let through on ' + e.approval;
    };
    switch (e.type) {
      case 'auth.failure': return 'Authentication refused: ' + e.reason + (e.status ? ', answered HTTP ' + e.status : '') + of(e.request_id);
      case 'request.decision': return 'Decision: ' + e.decision.effect + ' (' + e.decision.reason + ') for ' + (e.subject || 'an unauthenticated caller') + ', ' + e.method + ' ' + e.path + (e.route ? ' on route ' + e.route : '') + via() + of(e.request_id);
      case 'request.outcome': return 'Outcome: HTTP ' + e.status + ' after ' + e.duration_ms + ' ms' + (e.error ? ' (' + e.error + ')' : '') +
        (Object.keys(e.masked || {}).length ? ', masked ' + Object.keys(e.masked).map(function (k) { return e.masked[k] + ' ' + k; }).join(', ') : '') + of(e.request_id);
      case 'hold.created': return 'Held for approval as ' + e.hold_id + ': ' + e.detail + (e.request_id ? of(e.request_id) : '');
      case 'hold.approval': return 'Approval from ' + who() + (e.detail ? ': ' + e.detail : '') + '; more are needed';
      case 'hold.approved': return 'Approved by ' + who() + (e.detail ? ': ' + e.detail : '');
      case 'hold.denied': return 'Denied by ' + who() + ': ' + e.detail;
      case 'hold.replayed': return 'Approval ' + e.hold_id + ' used by request ' + (e.replay_request_id || '(not recorded)') + ': ' + e.detail;
      case 'hold.timeout': case 'hold.expired': return e.type.replace('hold.', 'Hold ') + ': ' + e.detail;
      case 'grant.created': return 'Grant ' + e.grant_id + ' made by ' + who() + ' from ' + (e.hold_id || 'no hold') + ': ' + e.detail + (e.request_id ? of(e.request_id) : ' (made without a request)');
      case 'grant.revoked': return 'Grant ' + e.grant_id + ' revoked by ' + who() + ': ' + e.detail;
      default: return e.type.replace(/[._]/g, ' ') + (e.detail ? ': ' + e.detail : '');
    }
  }

  /** A recorded body, pretty-printed when it is JSON (it is stored masked, as text). */
  function bodyBlock(label, b) {
    var block = el('div', null, 'body');
    var text = b.text;
    try { text = JSON.stringify(JSON.parse(b.text), null, 2); } catch (err) { /* not JSON, or cut at the audit cap: shown as recorded */ }
    block.append(el('div', label + ' (' + b.bytes + ' bytes' + (b.truncated ? ', cut at the audit cap' : '') + ', masked)', 'body-label'), el('pre', text));
    return block;
  }

  /** The exchange as a timeline: one entry per record, a headline, the bodies pretty-printed, then every field. */
  function timelineEntry(r) {
    var e = r.event;
    var li = el('li', null, 'record type-' + e.type.replace(/[^a-z]/g, '-'));
    li.dataset.seq = String(r.seq);
    li.append(el('div', '#' + r.seq + ' ' + r.ts, 'when'), el('div', headline(e), 'what'));
    var reasons = why(e).trim();
    if (reasons) li.append(el('div', reasons, 'why'));
    var rest = {};
    Object.keys(e).forEach(function (k) {
      var v = e[k];
      if (v && typeof v === 'object' && typeof v.text === 'string' && typeof v.bytes === 'number') li.append(bodyBlock(k.replace(/_/g, ' '), v));
      else rest[k] = v;
    });
    var details = el('details');
    details.append(el('summary', 'All fields of record #' + r.seq), el('pre', JSON.stringify(rest, null, 2)));
    li.append(details);
    return li;
  }

  async function showExchange(id) {
    try {
      var data = await api('GET', '/api/audit/exchanges/' + encodeURIComponent(id));
      $('exchange-id').textContent = id;
      $('exchange').replaceChildren.apply($('exchange'), data.records.map(timelineEntry));
    } catch (err) { say(err.message, true); }
  }

  async function verifySegments() {
    try {
      var data = await api('GET', '/api/audit/segments');
      var body = $('segments').tBodies[0];
      body.replaceChildren();
      // Nothing sealed yet is not a failure: say why the table is empty and what still protects the records.
      $('segments-empty').hidden = data.segments.length > 0;
      $('verified-at').textContent = 'Verified ' + new Date().toLocaleTimeString() + ': ' + (data.segments.some(function (s) { return s.status === 'failed'; }) ? 'a segment FAILED verification' : data.segments.length + ' segment(s) checked');
      data.segments.forEach(function (s) {
        var tr = el('tr');
        tr.append(el('td', s.segment < 0 ? 'unsealed' : s.segment), el('td', s.first < 0 ? '' : s.first + '..' + s.last),
          el('td', s.sealed_at || ''), el('td', s.status, 'status-' + s.status), el('td', s.message));
        body.append(tr);
      });
    } catch (err) { say(err.message, true); }
  }

  async function whoami() {
    me = await api('GET', '/api/whoami');
    $('me').textContent = 'Signed in as ' + me.sub + (me.groups.length ? ' (' + me.groups.join(', ') + ')' : '');
    $('me').hidden = false;
    return me;
  }

  async function showAuditorView() {
    try {
      var who = me || await whoami();
      $('audit-section').hidden = !who.auditor;
      if (who.auditor) await verifySegments();
    } catch (err) { say(err.message, true); }
  }

  function signIn(value) {
    token = value;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    start();
  }

  function start() {
    $('signout').hidden = false;
    $('idp-signin').hidden = true;
    say('Signed in.');
    refresh();
    showAuditorView();
    listen();
  }

  function signOut() {
    // The session ends on the server too; a pasted token is only forgotten.
    if (csrf) fetch('/console/logout', { method: 'POST', headers: { 'x-csrf-token': csrf } }).catch(function () {});
    csrf = '';
    $('idp-signin').hidden = false;
    token = '';
    me = null;
    $('me').hidden = true;
    sessionStorage.removeItem(TOKEN_KEY);
    if (streamAbort) streamAbort.abort();
    $('signout').hidden = true;
    renderHolds([]);
    renderGrants([]);
    $('audit-section').hidden = true;
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('signin').addEventListener('submit', function (e) {
      e.preventDefault();
      if ($('token').value.trim()) signIn($('token').value.trim());
    });
    $('signout').addEventListener('click', function () { signOut(); say('Signed out.'); });
    $('audit-search').addEventListener('submit', function (e) { e.preventDefault(); searchAudit(); });
    $('verify').addEventListener('click', verifySegments);
    setInterval(function () { Array.prototype.forEach.call($('holds').tBodies[0].rows, tick); }, 1000);
    if (token) return signIn(token);
    fetch('/console/session', { cache: 'no-store' }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (session) {
      if (!session) return;
      csrf = session.csrf_token;
      start();
    }).catch(function () {});
  });
})();
`;
