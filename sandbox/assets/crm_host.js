// Host side of Zoho CRM's embedded-app protocol on the emulated record page (shared/reference/zoho-crm.md §3).
// Opens the widget in a popup iframe with ?serviceOrigin=<this origin>, relays every SDK message from that
// iframe to the page's server (POST /crm-host/message), posts the server's answers back to the iframe and
// performs the UI actions (resize, close, reload, message) the answers ask for.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('crm-config').textContent);
  var popup = null;
  var frame = null;
  var widgetOrigin = null;

  function size(value) {
    if (typeof value === 'number' || /^\d+(\.\d+)?$/.test(String(value))) return value + 'px';
    return String(value);
  }

  function toast(text) {
    var note = document.createElement('div');
    note.className = 'crm-toast';
    note.textContent = text;
    document.body.appendChild(note);
    setTimeout(function () { note.remove(); }, 4000);
  }

  function closeWidget() {
    if (popup) popup.remove();
    popup = null;
    frame = null;
  }

  function openWidget() {
    if (popup) return;
    if (!config.widgetUrl) {
      toast('No widget URL is configured for this button.');
      return;
    }
    var src = new URL(config.widgetUrl, location.href);
    // What CRM appends to the widget URL; the SDK posts only to serviceOrigin.
    src.searchParams.set('serviceOrigin', location.origin);
    src.searchParams.set('frameorigin', location.origin);
    widgetOrigin = src.origin;

    popup = document.createElement('div');
    popup.className = 'crm-popup-overlay';
    popup.id = 'widget-popup';
    var box = document.createElement('div');
    box.className = 'crm-popup';
    box.setAttribute('role', 'dialog');
    var head = document.createElement('div');
    head.className = 'crm-popup-head';
    head.textContent = 'Sync to Xero';
    var close = document.createElement('button');
    close.className = 'crm-popup-close';
    close.setAttribute('aria-label', 'Close');
    close.textContent = '\u00d7';
    close.onclick = closeWidget;
    head.appendChild(close);
    frame = document.createElement('iframe');
    frame.id = 'widget-frame';
    frame.style.width = '600px';
    frame.style.height = '450px';
    frame.src = src.href;
    box.appendChild(head);
    box.appendChild(frame);
    popup.appendChild(box);
    document.body.appendChild(popup);
  }

  function performUi(ui) {
    if (!ui) return;
    if (ui.resize && frame) {
      if (ui.resize.width != null) frame.style.width = size(ui.resize.width);
      if (ui.resize.height != null) frame.style.height = size(ui.resize.height);
    } else if (ui.popup === 'close') {
      closeWidget();
    } else if (ui.popup === 'reload') {
      location.reload();
    } else if (ui.message) {
      toast(ui.message.message || '');
    }
  }

  window.addEventListener('message', function (event) {
    // Only the widget we framed, from the origin we framed it at.
    if (!frame || event.source !== frame.contentWindow || event.origin !== widgetOrigin) return;
    var message = event.data;
    if (typeof message === 'string') {
      try { message = JSON.parse(message); } catch (e) { return; }
    }
    if (!message || message.type !== 'SDK.EVENT') return;
    var target = frame;
    fetch('/crm-host/message', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ record_id: config.recordId, message: message })
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) return;
        var closing = answer.ui && answer.ui.popup;
        if (!closing) performUi(answer.ui);
        answer.replies.forEach(function (reply) {
          if (target.contentWindow) target.contentWindow.postMessage(reply, widgetOrigin);
        });
        if (closing) performUi(answer.ui);
      })
      .catch(function (e) { console.error('CRM host relay failed', e); });
  });

  document.getElementById('sync-to-xero').addEventListener('click', openWidget);
})();
