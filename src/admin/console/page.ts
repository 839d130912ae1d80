/**
 * The console's page and style sheet, shipped inside the code so the admin listener serves them
 * with no file lookups, no CDN and no network beyond itself (it works offline). The page holds no
 * data: the script fetches it with the approver's own token.
 */

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>regate console</title>
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<header>
  <h1>regate console</h1>
  <a id="idp-signin" href="/console/login">Sign in with the identity provider</a>
  <form id="signin" autocomplete="off">
    <label for="token">or paste a bearer token</label>
    <input id="token" type="password" spellcheck="false" required>
    <button type="submit">Sign in</button>
    <button type="button" id="signout" hidden>Sign out</button>
  </form>
  <p id="me" hidden></p>
  <p id="status" role="status" aria-live="polite"></p>
</header>
<main>
  <section id="holds-section">
    <h2>Pending holds</h2>
    <p class="empty" id="holds-signed-out">Sign in to see the holds you may decide or have requested.</p>
    <p class="empty" id="holds-empty" hidden>No pending holds.</p>
    <table id="holds">
      <thead><tr><th>Hold</th><th>Requester</th><th>Groups</th><th>Request</th><th>Reason</th><th>Summary (masked)</th>
      <th>Approvals</th><th>Age</th><th>Client</th><th>Hold expires in</th><th>Decision</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="grants-section">
    <h2>Active grants</h2>
    <p class="empty" id="grants-empty" hidden>No active grants.</p>
    <table id="grants">
      <thead><tr><th>Subject</th><th>Route</th><th>Approved by</th><th>Expires in</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="audit-section" hidden>
    <h2>Audit log (auditors)</h2>
    <p class="note">Every search, replay and verification you run here is itself recorded in the audit log.</p>
    <form id="audit-search" autocomplete="off">
      <label>Subject <input name="subject" spellcheck="false"></label>
      <label>Route <input name="route" spellcheck="false"></label>
      <label>Decision <select name="decision"><option value="">any</option><option>allow</option><option>deny</option>
        <option>mask</option><option>hold</option><option>error</option></select></label>
      <label>From <input name="from" type="datetime-local"></label>
      <label>To <input name="to" type="datetime-local"></label>
      <button type="submit">Search</button>
    </form>
    <table id="audit-records">
      <thead><tr><th>#</th><th>Time</th><th>Event</th><th>Subject</th><th>Route</th><th>Decision</th><th>Request</th></tr></thead>
      <tbody></tbody>
    </table>
    <h3>Exchange <span id="exchange-id"></span></h3>
    <ol id="exchange"></ol>
    <h3>Segments <button type="button" id="verify">Verify</button> <span id="verified-at" class="note"></span></h3>
    <p class="empty" id="segments-empty" hidden>No segment is sealed yet: the gateway seals the audit log into signed segments as it fills and when it stops; until then the records are protected by their hash chain and appear here once sealed.</p>
    <table id="segments">
      <thead><tr><th>Segment</th><th>Records</th><th>Sealed</th><th>Status</th><th>Detail</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
body { margin: 0; }
header { background: #1b1f24; color: #fff; padding: 0.8rem 1.5rem; display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
header h1 { font-size: 1.2rem; margin: 0 1rem 0 0; }
header input { width: 20rem; }
#status { margin: 0; min-height: 1.2em; }
#status.error { color: #ffb4b4; }
main { padding: 1rem 1.5rem; }
section { margin-bottom: 2rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border: 1px solid #d0d4da; padding: 0.4rem 0.5rem; text-align: left; vertical-align: top; font-size: 0.9rem; }
th { background: #eceef1; }
td.summary { font-family: ui-monospace, monospace; white-space: pre-wrap; max-width: 28rem; overflow-wrap: anywhere; }
td.reason { max-width: 18rem; overflow-wrap: anywhere; }
td.decision input { display: block; width: 12rem; margin-bottom: 0.3rem; }
td.decision button { margin-right: 0.3rem; }
button.approve { background: #1a7f37; color: #fff; border: 0; padding: 0.3rem 0.7rem; }
button.deny, button.revoke { background: #b42318; color: #fff; border: 0; padding: 0.3rem 0.7rem; }
.empty, .note { color: #57606a; }
#audit-search { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: end; margin-bottom: 0.8rem; }
#audit-search label { display: flex; flex-direction: column; font-size: 0.85rem; }
#exchange { list-style: none; padding: 0; border-left: 3px solid #d0d4da; }
#exchange li { background: #fff; border: 1px solid #d0d4da; margin: 0 0 0.6rem 0.8rem; padding: 0.5rem 0.7rem; }
#exchange .when { color: #57606a; font-size: 0.8rem; }
#exchange .what { font-weight: 600; margin: 0.2rem 0; }
#exchange .why { color: #57606a; }
#exchange pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85rem; margin: 0.3rem 0; }
#exchange .body-label { font-size: 0.8rem; color: #57606a; margin-top: 0.3rem; }
td.status-verified { color: #1a7f37; }
td.status-failed { color: #b42318; font-weight: bold; }
tr.flash { background: #fff8c5; }
`;
