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
    disclosure: 'Disclosure'
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

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function setFile(file) {
    chosenFile = file || null;
    fileStatus.textContent = chosenFile
      ? 'Chosen: ' + chosenFile.name + ' (' + chosenFile.size + ' bytes). Its hash is computed when you verify.'
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
    fileStatus.textContent = file.name + ': SHA-256 ' + hex + ' (only this hash is sent).';
    return hex;
  }

  // The request body. The receipt is passed through as the exact text given (once it is
  // known to be JSON), so that the service checks what the person holds, byte for byte.
  async function requestBody() {
    var text = textEl.value;
    var hasText = text.trim() !== '';
    var receipt = receiptEl.value.trim();
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
    var isImage = chosenFile && /^image\/(jpeg|png|webp)$/.test(chosenFile.type);
    return {
      body: '{' + members.join(',') + '}',
      receiptOnly: !hasText && !chosenFile,
      imageFile: isImage && !hasText && !receipt ? chosenFile : null
    };
  }

  function showBox(kind, icon, headline, lines) {
    detailsEl.replaceChildren();
    var h = el('h3', { id: 'headline' }, [headline]);
    if (icon) h.prepend(el('span', { 'aria-hidden': 'true' }, [icon + ' ']));
    verdictEl.replaceChildren(el('div', { 'class': 'verdict ' + kind }, [h]
      .concat(lines.map(function (l) { return el('p', {}, [l]); }))));
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

  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toLocaleString(undefined, { dateStyle: 'long', timeStyle: 'long' }) + ' (' + iso + ')';
  }

  function generatorText(g) {
    if (!g) return '';
    return g.provider + ' ' + g.model + (g.model_version ? ' (version ' + g.model_version + ')' : '');
  }

  function render(v, receiptOnly) {
    var unknown = !v.verified && v.checks.some(function (c) { return c.code === 'content.unknown'; });
    var kind = v.verified ? 'verified' : unknown ? 'unknown' : 'failed';
    var headline = v.verified ? 'Genuine AI disclosure' : unknown ? 'No stamp found' : 'Not verified';
    var icon = v.verified ? '✓' : unknown ? '?' : '✗';
    var lines = [];
    if (v.verified && v.stamp) {
      lines.push(el('span', { 'class': 'disclosure' }, ['“' + v.stamp.disclosure.text + '”']));
    }
    lines.push(v.summary);
    showBox(kind, icon, headline, lines);

    var parts = [];
    if (receiptOnly && v.verified) {
      parts.push(el('p', { 'class': 'note' }, ['This checked the stamp itself. To check that a text or file is the ' +
        'content it was made for, paste the text or choose the file above and verify again.']));
    }
    if (unknown) {
      parts.push(el('p', { 'class': 'note' }, ['Nothing in this service\'s log was stamped for this content. It may ' +
        'have been changed since it was stamped, stamped elsewhere, or never stamped. A file must be byte for ' +
        'byte the one stamped.']));
    }
    if (v.stamp) {
      var s = v.stamp;
      var facts = [
        ['Disclosure', s.disclosure.text],
        ['Generator', generatorText(s.generator)],
        ['Issuer', s.issuer],
        ['Issued', formatTime(s.issued_at)],
        ['Kind', KINDS[s.kind] || s.kind],
        ['Human oversight', OVERSIGHT[s.human_oversight] || s.human_oversight],
        ['Log index', String(s.log_index)],
        ['Stamp id', s.id]
      ];
      var dl = el('dl', { 'class': 'facts', id: 'facts' });
      facts.forEach(function (f) {
        dl.appendChild(el('dt', {}, [f[0]]));
        dl.appendChild(el('dd', { 'data-fact': f[0].toLowerCase().replace(/ /g, '-') }, [f[1]]));
      });
      parts.push(el('h3', {}, [v.verified ? 'The stamp' : 'What the receipt claims (not proven)']));
      parts.push(dl);
    }
    var list = el('ul', { 'class': 'checks', id: 'checks' });
    v.checks.forEach(function (c) {
      list.appendChild(el('li', { 'class': c.passed ? 'pass' : 'fail', 'data-code': c.code }, [
        el('span', { 'class': 'mark', 'aria-hidden': 'true' }, [c.passed ? '✓' : '✗']),
        el('div', {}, [
          el('strong', {}, [CHECK_NAMES[c.name] || c.name]), ': ',
          el('span', { 'class': 'outcome' }, [c.passed ? 'passed' : 'failed']), '. ',
          c.message, ' ',
          el('code', { 'class': 'code' }, [c.code])
        ])
      ]));
    });
    parts.push(el('h3', {}, ['Checks']));
    parts.push(list);
    if (Array.isArray(v.matches) && v.matches.length > 1) {
      parts.push(el('p', { 'class': 'note' }, [v.matches.length + ' stamps match this content; the newest is shown.']));
    }
    detailsEl.replaceChildren.apply(detailsEl, parts);
  }

  async function run(makeRequest) {
    button.disabled = true;
    showBox('busy', '', 'Verifying…', []);
    try {
      var req = await makeRequest();
      var verdict = await post(req.body);
      // An image that matches no stamp by its hash may carry Content Credentials (a C2PA
      // manifest naming its stamp): only then is the file itself sent, to be read.
      if (req.imageFile && verdict.checks.length === 1 && verdict.checks[0].code === 'content.unknown') {
        showBox('busy', '', 'No stamp has this exact file; reading its Content Credentials…', []);
        verdict = await post(req.imageFile, 'v1/verify/upload');
      }
      render(verdict, req.receiptOnly);
      // The result is below the form: bring it into sight (screen readers hear it anyway).
      verdictEl.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      if (e instanceof UserError) {
        showBox('error', '!', 'Could not verify', [e.message]);
      } else {
        showBox('error', '!', 'Could not verify', ['Something went wrong in this page: ' + e]);
      }
    } finally {
      button.disabled = false;
    }
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
        var resp = await fetch('v1/stamps/' + id.toLowerCase());
        if (resp.status === 404) throw new UserError('This service has no stamp with the id in the link.');
        if (!resp.ok) throw new UserError('The stamp could not be fetched (HTTP ' + resp.status + ').');
        var receipt = await resp.text();
        receiptEl.value = receipt;
        return { body: '{"receipt":' + receipt + '}', receiptOnly: true };
      });
    } else if (sha !== null) {
      await run(async function () {
        if (!HEX64.test(sha)) throw new UserError('The link\'s SHA-256 is not 64 hexadecimal digits.');
        fileStatus.textContent = 'Checking the SHA-256 from the link: ' + sha.toLowerCase();
        return { body: JSON.stringify({ sha256: sha.toLowerCase() }), receiptOnly: false };
      });
    } else if (text !== null) {
      textEl.value = text;
      await run(requestBody);
    }
  }

  fileEl.addEventListener('change', function () { setFile(fileEl.files[0]); });
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
    run(requestBody);
  });
  form.addEventListener('reset', function () {
    setFile(null);
    verdictEl.replaceChildren();
    detailsEl.replaceChildren();
  });
  fromLink();
})();
