// The verify page: collects text, a file's SHA-256 (computed here, the file is never
// sent) and/or a receipt, posts them to v1/verify and shows the verdict. Everything
// shown is set with textContent, never as HTML: verdicts carry issuer-supplied text.
(function () {
  'use strict';

  var form = document.getElementById('verify-form');
  var textEl = document.getElementById('text');
  var fileEl = document.getElementById('file');
  var receiptEl = document.getElementById('receipt');
  var dropEl = document.getElementById('drop');
  var fileStatus = document.getElementById('file-status');
  var button = document.getElementById('verify');
  var receiptStatus = document.getElementById('receipt-status');
  var verdictEl = document.getElementById('verdict');
  var detailsEl = document.getElementById('details');

  var HEX64 = /^[0-9a-fA-F]{64}$/;
  var CHECK_NAMES = {
    receipt: 'Receipt',
    key: 'Signing key',
    signature: 'Signature',
    content: 'Content',
    log: 'Public log',
    checkpoint: 'Log checkpoint',
    disclosure: 'Disclosure',
    witnesses: 'Witnesses',
    consistency: 'Log consistency'
  };
  var KINDS = {
    marketing_copy: 'Marketing copy',
    image: 'Image',
    video: 'Video',
    audio: 'Audio',
    recommendation_explanation: 'Recommendation explanation',
    other: 'Other content'
  };
  var OVERSIGHT = {
    none: 'None declared',
    reviewed: 'Reviewed by a person',
    edited: 'Edited by a person'
  };

  // A problem the person can fix; shown as is.
  function UserError(message) { this.message = message; }

  var chosenFile = null;
  // The receipt of the stamp a link named (verify#id=...), as text: kept out of the receipt
  // box so that a reader sees facts, not JSON; used while that box is left empty.
  var linkReceipt = null;

  // Counts in English ("1 entry", "2 entries"): the page's text is English whatever the
  // reader's locale, so its plural rules are English too.
  var pluralRules = new Intl.PluralRules('en');
  function count(n, forms) {
    return n + ' ' + (forms[pluralRules.select(n)] || forms.other);
  }

  // Dates in the reader's language and time zone, the zone named; the exact value stays in
  // the <time> element's datetime (and its tooltip).
  var dateFormat = (function () {
    try {
      return new Intl.DateTimeFormat(undefined, { dateStyle: 'long', timeStyle: 'long' });
    } catch (e) {
      return { format: function (d) { return d.toLocaleString(); } };
    }
  })();
  var ISO_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;

  function timeEl(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return document.createTextNode(iso);
    return el('time', { datetime: iso, title: iso }, [dateFormat.format(d)]);
  }

  // A sentence of the service, with every timestamp in it shown as a local date.
  function withTimes(text) {
    var nodes = [];
    var last = 0;
    text.replace(ISO_TIME, function (iso, at) {
      nodes.push(text.slice(last, at), timeEl(iso));
      last = at + iso.length;
      return iso;
    });
    nodes.push(text.slice(last));
    return nodes.filter(function (n) { return n !== ''; });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function setFile(file) {
    chosenFile = file || null;
    fileStatus.textContent = chosenFile
      ? 'Chosen: ' + chosenFile.name + ' (' + count(chosenFile.size, { one: 'byte', other: 'bytes' }) +
        '). Its hash is computed when you verify.'
      : '';
  }

  async function sha256Hex(file) {
    if (!window.crypto || !window.crypto.subtle) {
      throw new UserError('This browser hashes files only on secure pages (https, or http on localhost). ' +
        'Open this page over https, or compute the SHA-256 yourself (for example with sha256sum) ' +
        'and open verify?sha256=<the hash>.');
    }
    fileStatus.textContent = 'Hashing ' + file.name + ' in your browser…';
    var digest = await window.crypto.subtle.digest('SHA-256', await file.arrayBuffer());
    var hex = Array.from(new Uint8Array(digest), function (b) { return b.toString(16).padStart(2, '0'); }).join('');
    fileStatus.textContent = file.name + ': SHA-256 ' + hex + ' (this hash is sent first).';
    return hex;
  }

  // The request body. The receipt is passed through as the exact text given (once it is
  // known to be JSON), so that the service checks what the person holds, byte for byte.
  // With the receipt box empty, the receipt of the stamp in the link (if any) is used.
  async function requestBody() {
    var text = textEl.value;
    var hasText = text.trim() !== '';
    var receipt = receiptEl.value.trim() || linkReceipt || '';
    if (hasText && chosenFile) {
      throw new UserError('Give either text or a file, not both: clear one of them.');
    }
    var members = [];
    if (receipt) {
      try {
        JSON.parse(receipt);
      } catch (e) {
        throw new UserError('The receipt is not valid JSON (' + e.message + '). Paste it exactly as you received it.');
      }
      members.push('"receipt":' + receipt);
    }
    if (hasText) {
      members.push('"text":' + JSON.stringify(text));
    } else if (chosenFile) {
      members.push('"sha256":' + JSON.stringify(await sha256Hex(chosenFile)));
    }
    if (members.length === 0) {
      throw new UserError('Paste some text, choose a file, or paste a receipt, then verify.');
    }
    var isImage = chosenFile && /^image\/(jpeg|png|webp|gif)$/.test(chosenFile.type);
    // A plain-text file may carry Content Credentials as invisible characters, or be
    // typeset or excerpted: like an image, it is sent itself when its hash finds nothing.
    var isText = chosenFile && (chosenFile.type === 'text/plain' || /\.txt$/i.test(chosenFile.name));
    var sendable = (isImage || isText) && !hasText && !receipt;
    return {
      body: '{' + members.join(',') + '}',
      receipt: receipt || null,
      asset: isImage ? 'image' : 'text',
      uploadFile: sendable ? chosenFile : null
    };
  }

  // Each line is a node, a string or an array of both. The heading takes focus from
  // script only (tabindex -1), when a link brought the reader here.
  function showBox(kind, icon, headline, lines) {
    detailsEl.replaceChildren();
    var h = el('h3', { id: 'headline', tabindex: '-1' }, [headline]);
    if (icon) h.prepend(el('span', { 'aria-hidden': 'true' }, [icon + ' ']));
    verdictEl.replaceChildren(el('div', { 'class': 'verdict ' + kind }, [h]
      .concat(lines.map(function (l) { return el('p', {}, [].concat(l)); }))));
  }

  async function post(body, path) {
    var resp;
    try {
      resp = await fetch(path || 'v1/verify', path
        ? { method: 'POST', body: body }
        : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body });
    } catch (e) {
      throw new UserError('The service could not be reached (' + e.message + '). Try again.');
    }
    var json = null;
    try { json = await resp.json(); } catch (e) { /* reported below */ }
    if (!resp.ok) {
      var msg = json && json.error ? json.error.message : 'HTTP ' + resp.status;
      throw new UserError('The service refused the request: ' + msg);
    }
    if (!json || !Array.isArray(json.checks)) throw new UserError('The service answered something unexpected.');
    return json;
  }

  // The receipt of a stamp this service holds, as text; null when it cannot be had.
  async function fetchReceipt(id) {
    try {
      var resp = await fetch('v1/stamps/' + encodeURIComponent(id));
      return resp.ok ? await resp.text() : null;
    } catch (e) {
      return null;
    }
  }

  // The stamp's receipt with a checkpoint its witnesses cosigned, where the service has
  // one (?witnessed=true), else its plain receipt: under the operator's witness policy
  // the plain one, against a checkpoint no witness has seen yet, would fail `witnesses`.
  async function fetchStamp(id) {
    try {
      var witnessed = await fetch('v1/stamps/' + id + '?witnessed=true');
      if (witnessed.ok) return witnessed;
    } catch (e) { /* the plain receipt below */ }
    return fetch('v1/stamps/' + id);
  }

  // This service's base URL, as aiprov verify --key takes it.
  function serviceBase() {
    return new URL('.', window.location.href).href.replace(/\/$/, '');
  }

  // The receipt as parsed JSON, or null.
  function parseReceipt(text) {
    try {
      var r = JSON.parse(text);
      return r && typeof r === 'object' ? r : null;
    } catch (e) {
      return null;
    }
  }

  function generatorText(g) {
    if (!g) return '';
    return g.provider + ' ' + g.model + (g.model_version ? ' (version ' + g.model_version + ')' : '');
  }

  // receipt: the receipt checked (or, for content found in the log, the stamp's), as text.
  // The checks of a verdict, each with its name, outcome, message and code.
  function checkList(checks) {
    var list = el('ul', { 'class': 'checks', id: 'checks' });
    checks.forEach(function (c) {
      list.appendChild(el('li', { 'class': c.passed ? 'pass' : 'fail', 'data-code': c.code }, [
        el('span', { 'class': 'mark', 'aria-hidden': 'true' }, [c.passed ? '✓' : '✗']),
        el('div', {}, [
          el('strong', {}, [CHECK_NAMES[c.name] || c.name]), ': ',
          el('span', { 'class': 'outcome' }, [c.passed ? 'passed' : 'failed']), '. '
        ].concat(withTimes(c.message), ' ', el('code', { 'class': 'code' }, [c.code])))
      ]));
    });
    return list;
  }

  // The first similar stamp, above the fold: whose disclosure, when, how similar, and a
  // link to see that stamp. A lead, never proof.
  function similarLead(candidate) {
    return el('div', { 'class': 'lead', id: 'similar-lead' }, [
      el('span', { 'class': 'disclosure' }, ['“' + candidate.disclosure.text + '”']),
      el('br', {}),
      candidate.issuer + ', ', timeEl(candidate.issued_at), ' · similarity ' + candidate.similarity + ' of 100 · ',
      el('a', { href: 'verify?id=' + encodeURIComponent(candidate.stamp_id) }, ['See that stamp'])
    ]);
  }

  function render(v, receipt) {
    var similar = Array.isArray(v.similar) ? v.similar : [];
    var isSimilar = !v.verified && v.checks.some(function (c) { return c.code === 'content.similar'; });
    // An image or text whose Content Credentials name a stamp, changed since they were signed.
    var edited = !v.verified && v.stamp && v.checks.some(function (c) { return c.code === 'content.credential.mismatch'; }) &&
      v.checks.some(function (c) { return c.name === 'c2pa' && !c.passed; });
    if (isSimilar || edited) {
      renderSimilar(v, similar, edited);
      return;
    }
    var unknown = !v.verified && v.checks.some(function (c) { return c.code === 'content.unknown'; });
    // Nothing is green unless the content itself was checked: a badge's link (#id=) or a
    // receipt alone proves that a stamp is genuine, not that what the reader sees is the
    // content it was made for. Anyone can copy a badge next to other content.
    var stampOnly = v.verified && !v.content_checked;
    var kind = stampOnly ? 'unchecked' : v.verified ? 'verified' : unknown ? 'unknown' : 'failed';
    var headline = stampOnly ? 'Genuine stamp, content not checked'
      : v.verified ? 'Genuine AI disclosure' : unknown ? 'No stamp found' : 'Not verified';
    var icon = stampOnly ? 'ℹ' : v.verified ? '✓' : unknown ? '?' : '✗';
    var lines = [];
    if (stampOnly && v.stamp) {
      lines.push([
        'This stamp is genuine, but nothing checked yet that the text or file you are looking at is the content ' +
        'it was made for. ',
        el('button', { type: 'button', id: 'check-content', 'class': 'link' }, ['Paste the text or drop the file']),
        ' to check it.'
      ]);
    } else if (v.verified && v.stamp) {
      lines.push(el('span', { 'class': 'disclosure' }, ['“' + v.stamp.disclosure.text + '”']));
    }
    lines.push(withTimes(v.summary));
    showBox(kind, icon, headline, lines);
    var checkContent = document.getElementById('check-content');
    if (checkContent) {
      checkContent.addEventListener('click', function () {
        textEl.scrollIntoView({ behavior: scrollBehavior(), block: 'center' });
        textEl.focus({ preventScroll: true });
      });
    }

    var parts = [];
    if (unknown) {
      parts.push(el('p', { 'class': 'note' }, ['Nothing in this service\'s log was stamped for this content. It may ' +
        'have been changed since it was stamped, stamped elsewhere, or never stamped. A file must be byte for ' +
        'byte the one stamped.']));
    }
    var parsed = receipt ? parseReceipt(receipt) : null;
    if (v.stamp) {
      var s = v.stamp;
      var kid = parsed && parsed.signature && typeof parsed.signature.kid === 'string' ? parsed.signature.kid : null;
      var facts = [
        ['Disclosure', s.disclosure.text],
        ['Issuer', s.issuer],
        ['Issued', timeEl(s.issued_at)],
        ['AI model', generatorText(s.generator)],
        ['Kind', KINDS[s.kind] || s.kind],
        ['Human oversight', OVERSIGHT[s.human_oversight] || s.human_oversight],
        ['Log', s.log_origin || null],
        ['Log operator', s.log_operator || null],
        ['Log index', String(s.log_index)],
        ['Signing key', kid],
        ['Stamp id', s.id]
      ];
      var dl = el('dl', { 'class': 'facts', id: 'facts' });
      facts.forEach(function (f) {
        if (f[1] === null) return;
        dl.appendChild(el('dt', {}, [f[0]]));
        dl.appendChild(el('dd', { 'data-fact': f[0].toLowerCase().replace(/ /g, '-') }, [f[1]]));
      });
      parts.push(el('h3', {}, [v.verified ? 'The stamp' : 'What the receipt claims (not proven)']));
      parts.push(dl);
    }
    var list = checkList(v.checks);
    if (stampOnly) {
      // The check a reader might assume was made, listed as not made.
      list.appendChild(el('li', { 'class': 'unchecked', 'data-code': 'content.not_checked' }, [
        el('span', { 'class': 'mark', 'aria-hidden': 'true' }, ['–']),
        el('div', {}, [el('strong', {}, [CHECK_NAMES.content || 'Content']), ': ',
          el('span', { 'class': 'outcome' }, ['not checked']),
          '. No text or file was given to compare with the stamp.'])
      ]));
    }
    parts.push(el('h3', {}, ['Checks']));
    parts.push(list);
    var witnesses = v.checks.filter(function (c) { return c.name === 'witnesses'; })[0];
    if (witnesses) {
      // The operator chose these witnesses: their word proves to a reader only as much as
      // the reader trusts that choice. A policy of the reader's own proves it to them.
      parts.push(el('p', { 'class': 'note', id: 'witnesses-note' }, [
        'Witnesses: ' + witnesses.message + ' This service applied its operator\'s witness policy: the ' +
        'witnesses and quorum its operator chose. To rely on witnesses you trust, check the receipt offline ' +
        'with a policy of your own: ',
        el('code', {}, ['aiprov verify --receipt receipt.json --key ' + serviceBase() + ' --policy my-policy.txt'])
      ]));
    }
    if (Array.isArray(v.matches) && v.matches.length > 0) {
      var n = v.matches.length;
      parts.push(el('p', { 'class': 'note', id: 'matches' }, [
        count(n, { one: 'stamp matches', other: 'stamps match' }) + ' this content' +
        (n > 1 ? '; the newest is shown.' : '.')
      ]));
    }
    if (parsed) {
      // For experts: the receipt itself, to keep or to check offline, folded away.
      parts.push(el('details', { 'class': 'raw', id: 'receipt-json' }, [
        el('summary', {}, ['Show the receipt (JSON)']),
        el('p', { 'class': 'note' }, ['Saved as a file, it can be checked offline with this service\'s public keys: ',
          el('code', {}, ['aiprov verify --receipt receipt.json --key ' + serviceBase()])]),
        el('pre', {}, [el('code', {}, [JSON.stringify(parsed, null, 2)])])
      ]));
    }
    detailsEl.replaceChildren.apply(detailsEl, parts);
  }

  // Content that is not the stamped content itself, but close to it: similar text or
  // images, or an image changed after its Content Credentials were signed. The lead to
  // the original disclosure comes first; the checks follow.
  function renderSimilar(v, similar, edited) {
    var noun = sentAsset === 'image' ? 'image' : 'text';
    var lines = [withTimes(v.summary)];
    if (edited && v.stamp) {
      lines.push(el('div', { 'class': 'lead', id: 'similar-lead' }, [
        el('span', { 'class': 'disclosure' }, ['“' + v.stamp.disclosure.text + '”']),
        el('br', {}),
        v.stamp.issuer + ', ', timeEl(v.stamp.issued_at), ' · ',
        el('a', { href: 'verify?id=' + encodeURIComponent(v.stamp.id) }, ['See the original stamp'])
      ]));
    } else if (similar.length > 0) {
      lines.push(similarLead(similar[0]));
    }
    showBox('similar', '≈', edited ? 'Edited after its AI disclosure was made' : 'Similar to content declared AI-generated', lines);
    var parts = [el('p', { 'class': 'note', id: 'similar-note' }, [edited
      ? 'The ' + noun + '\'s Content Credentials were made for the original ' + noun + '. This ' + noun +
        ' changed after they were signed (' + (noun === 'image' ? 're-encoded, resized or edited' : 'words or ' +
        'characters edited, added or removed') + '), so they no longer describe it: the stamp they name is the ' +
        'disclosure of the original, not proof about this ' + noun + '.'
      : 'Nothing in this service\'s log was stamped for this exact content, but content very close to it was. ' +
        'That is a lead to the disclosure of the original, not proof: compare for yourself.'])];
    if (similar.length > 0) {
      var list = el('ul', { 'class': 'similar', id: 'similar' });
      similar.forEach(function (c) {
        list.appendChild(el('li', { 'data-stamp': c.stamp_id }, [
          el('strong', {}, [c.issuer]), ', ', timeEl(c.issued_at), ': “' + c.disclosure.text + '” (',
          (KINDS[c.kind] || c.kind) + ', similarity ' + c.similarity + ' of 100, found by ' +
          (c.algorithm === 'io.iscc.v0' ? 'its ISCC fingerprint' : 'its sentences') + '). ',
          el('a', { href: 'verify?id=' + encodeURIComponent(c.stamp_id) }, ['See the stamp'])
        ]));
      });
      parts.push(el('h3', {}, ['Similar stamps']), list);
    }
    parts.push(el('h3', {}, ['Checks']), checkList(v.checks));
    detailsEl.replaceChildren.apply(detailsEl, parts);
  }

  function scrollBehavior() {
    return window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth';
  }

  // While a verification runs, Verify is marked busy, not disabled: disabling the focused
  // button would drop the keyboard's focus to the top of the page.
  var busy = false;
  // What the last verification sent: 'image' for an image file, else 'text'.
  var sentAsset = 'text';

  // arrived: a link brought the reader here, to this verdict: it gets the focus (screen
  // readers announce its heading) and the top of the window, below the form it would be
  // out of sight. After a submit the focus stays on the button and the verdict is
  // scrolled just into sight (the live region announces it).
  async function run(makeRequest, arrived) {
    if (busy) return;
    busy = true;
    button.setAttribute('aria-disabled', 'true');
    showBox('busy', '', 'Verifying…', []);
    try {
      var req = await makeRequest();
      var verdict = await post(req.body);
      // An image or a text file that matches no stamp by its hash may carry Content
      // Credentials (a C2PA manifest naming its stamp): only then is the file itself sent.
      if (req.uploadFile && verdict.checks.length === 1 && verdict.checks[0].code === 'content.unknown') {
        // Said as it happens: the page promised the hash first, and now sends the file.
        fileStatus.textContent = req.uploadFile.name + ': no stamp has this exact file, so the ' + req.asset +
          ' itself (' + count(req.uploadFile.size, { one: 'byte', other: 'bytes' }) + ') is being sent, to find ' +
          'similar stamped ' + req.asset + 's and read its Content Credentials. It is not kept.';
        showBox('busy', '', 'No stamp has this exact file; comparing the ' + req.asset + '…', []);
        verdict = await post(req.uploadFile, 'v1/verify/upload');
      }
      sentAsset = req.asset;
      var receipt = req.receipt;
      if (!receipt && verdict.stamp && verdict.stamp.id) receipt = await fetchReceipt(verdict.stamp.id);
      render(verdict, receipt);
    } catch (e) {
      if (e instanceof UserError) {
        showBox('error', '!', 'Could not verify', [e.message]);
      } else {
        showBox('error', '!', 'Could not verify', ['Something went wrong in this page: ' + e]);
      }
    } finally {
      busy = false;
      button.removeAttribute('aria-disabled');
    }
    if (arrived) {
      document.getElementById('headline').focus({ preventScroll: true });
      verdictEl.scrollIntoView({ block: 'start', behavior: scrollBehavior() });
    } else {
      verdictEl.scrollIntoView({ block: 'nearest', behavior: scrollBehavior() });
    }
  }

  // Which receipt a verification will use, when the link gave one.
  function showReceiptStatus() {
    receiptStatus.textContent = !linkReceipt ? ''
      : receiptEl.value.trim() ? 'The receipt pasted here is used, not the one of the stamp in the link.'
        : 'The receipt of the stamp in the link is used; it is shown with the result. Paste text or choose a ' +
          'file above to check them against it, or paste another receipt here.';
  }

  // Links such as verify?id=<stamp id>, verify#sha256=<hex> or verify?text=... (from a
  // badge or a message) verify on arrival.
  async function fromLink() {
    var params = new URLSearchParams(window.location.search);
    new URLSearchParams(window.location.hash.replace(/^#/, '')).forEach(function (v, k) { params.set(k, v); });
    var id = params.get('id');
    var sha = params.get('sha256');
    var text = params.get('text');
    if (id !== null) {
      await run(async function () {
        if (!HEX64.test(id)) throw new UserError('The link\'s stamp id is not 64 hexadecimal digits.');
        var resp = await fetchStamp(id.toLowerCase());
        if (resp.status === 404) throw new UserError('This service has no stamp with the id in the link.');
        if (!resp.ok) throw new UserError('The stamp could not be fetched (HTTP ' + resp.status + ').');
        var receipt = await resp.text();
        linkReceipt = receipt;
        showReceiptStatus();
        return { body: '{"receipt":' + receipt + '}', receipt: receipt };
      }, true);
    } else if (sha !== null) {
      await run(async function () {
        if (!HEX64.test(sha)) throw new UserError('The link\'s SHA-256 is not 64 hexadecimal digits.');
        fileStatus.textContent = 'Checking the SHA-256 from the link: ' + sha.toLowerCase();
        return { body: JSON.stringify({ sha256: sha.toLowerCase() }), receipt: null };
      }, true);
    } else if (text !== null) {
      textEl.value = text;
      await run(requestBody, true);
    }
  }

  fileEl.addEventListener('change', function () { setFile(fileEl.files[0]); });
  receiptEl.addEventListener('input', showReceiptStatus);
  ['dragenter', 'dragover'].forEach(function (type) {
    dropEl.addEventListener(type, function (e) { e.preventDefault(); dropEl.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (type) {
    dropEl.addEventListener(type, function () { dropEl.classList.remove('over'); });
  });
  dropEl.addEventListener('drop', function (e) {
    e.preventDefault();
    var files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length > 0) {
      try { fileEl.files = files; } catch (err) { /* older browsers: the file is still used */ }
      setFile(files[0]);
    }
  });
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    run(requestBody, false);
  });
  form.addEventListener('reset', function () {
    setFile(null);
    linkReceipt = null;
    showReceiptStatus();
    verdictEl.replaceChildren();
    detailsEl.replaceChildren();
  });
  fromLink();
})();
