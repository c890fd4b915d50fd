/*
 * xero-sync sandbox: a stand-in for Zoho's embedded-app JS SDK (v1.x), written from the protocol notes in
 * shared/reference/zoho-crm.md §2-§3 (not Zoho's code). It speaks the same wire protocol to the host page as
 * the real SDK, so a widget cannot tell the two apart:
 *   - init() posts {type:"SDK.EVENT", eventName:"REGISTER", appOrigin} to window.parent at the
 *     `serviceOrigin` query parameter (missing: the browser drops it and init() never resolves, as with Zoho);
 *   - SET_CONTEXT (accepted from any sender, like the real SDK) stores uniqueID and resolves init();
 *   - each API call posts a CRM_EVENT with uniqueID, time, promiseid "Promise100", "Promise101", ... and
 *     data {category, ..., sdkVersion:"1"}; EVENT_RESPONSE resolves and EVENT_RESPONSE_FAILURE rejects the
 *     matching promise with `data` exactly as sent; there is no timeout;
 *   - any other FRAMEWORK.EVENT (PageLoad, ...) goes to the listeners registered with on(name);
 *   - calls throw synchronously when made too early: a TypeError before init(), and
 *     "Parentwindow reference not found." between init() and SET_CONTEXT;
 *   - DEREGISTER is posted on unload.
 * UI.Popup.close / closeReload send {category:"UI", action:{popup:"CLOSE" | "CLOSE_RELOAD"}}, as Zoho's
 * ZohoCrmHelper.js does (checked against ZohoDevelopers/embeddedApp-js-sdk @ 05f07ab).
 * META.getFields sends {category:"META", type:"FIELD_LIST", Entity}: the SDK's getMeta sends
 * {category:"META", type, Entity, Id}; the type's name is our reading and only this stand-in and the host
 * page depend on it (a widget sees the public call and its documented answer, {fields:[...]}).
 */
(function (global) {
  'use strict';

  var params = {};
  new URLSearchParams(global.location.search).forEach(function (value, key) { params[key] = value; });
  var serviceOrigin = params.serviceOrigin;

  var listeners = {};
  var pending = {};
  var promiseCounter = 100;
  var initPromise = null;
  var resolveInit = null;
  var parentWindow = null;
  var uniqueID;

  function appOrigin() {
    return encodeURIComponent(global.location.protocol + '//' + global.location.host + global.location.pathname);
  }

  function post(message) {
    if (!parentWindow) throw new Error('Parentwindow reference not found.');
    message.appOrigin = appOrigin();
    parentWindow.postMessage(message, serviceOrigin);
  }

  function request(data) {
    if (!initPromise) throw new TypeError('ZOHO.embeddedApp.init() has not been called');
    data.sdkVersion = '1';
    var promiseid = 'Promise' + promiseCounter;
    post({ type: 'SDK.EVENT', eventName: 'CRM_EVENT', uniqueID: uniqueID, time: Date.now(), promiseid: promiseid, data: data });
    promiseCounter += 1;
    return new Promise(function (resolve, reject) {
      pending[promiseid] = { resolve: resolve, reject: reject };
    });
  }

  function settle(promiseid, outcome, data) {
    var entry = pending[promiseid];
    if (!entry) return;
    delete pending[promiseid];
    entry[outcome](data);
  }

  global.addEventListener('message', function (event) {
    var message = event.data;
    if (typeof message === 'string') {
      try { message = JSON.parse(message); } catch (e) { return; }
    }
    if (!message || message.type !== 'FRAMEWORK.EVENT') return;
    switch (message.eventName) {
      case 'SET_CONTEXT':
        parentWindow = event.source;
        uniqueID = message.data && message.data.uniqueID;
        if (resolveInit) resolveInit();
        break;
      case 'UPDATE_CONTEXT':
        break;
      case 'EVENT_RESPONSE':
        settle(message.promiseid, 'resolve', message.data);
        break;
      case 'EVENT_RESPONSE_FAILURE':
        settle(message.promiseid, 'reject', message.data);
        break;
      default:
        (listeners[message.eventName] || []).forEach(function (fn) { fn(message.data); });
    }
  });

  global.addEventListener('beforeunload', function () {
    if (parentWindow) post({ type: 'SDK.EVENT', eventName: 'DEREGISTER', uniqueID: uniqueID });
  });

  function stringified(value) {
    return value === undefined ? undefined : JSON.stringify(value);
  }

  global.ZOHO = {
    embeddedApp: {
      on: function (eventName, fn) {
        if (typeof fn !== 'function') return;
        (listeners[eventName] = listeners[eventName] || []).push(fn);
      },
      init: function () {
        if (initPromise) return initPromise;
        initPromise = new Promise(function (resolve) { resolveInit = resolve; });
        global.parent.postMessage({ type: 'SDK.EVENT', eventName: 'REGISTER', appOrigin: appOrigin() }, serviceOrigin);
        return initPromise;
      }
    },
    CRM: {
      API: {
        getRecord: function (config) {
          var apiData = { Entity: config.Entity, RecordID: config.RecordID };
          if (config.approved !== undefined) apiData.approved = config.approved;
          return request({ category: 'READ', APIData: apiData });
        },
        updateRecord: function (config) {
          // Like the SDK, this moves Trigger into the caller's own APIData object.
          config.APIData.trigger = config.Trigger;
          return request({ category: 'UPDATE', type: 'RECORD', Entity: config.Entity, APIData: config.APIData });
        }
      },
      UI: {
        Resize: function (dimensions) {
          return request({ category: 'UI', action: 'RESIZE', data: { width: dimensions.width, height: dimensions.height } });
        },
        Popup: {
          close: function () { return request({ category: 'UI', action: { popup: 'CLOSE' } }); },
          closeReload: function () { return request({ category: 'UI', action: { popup: 'CLOSE_RELOAD' } }); },
          showMessage: function (options) {
            return request({ category: 'UI', action: { popup: 'SHOW_MSG' }, data: { type: options.type, message: options.message, delay: options.delay } });
          }
        }
      },
      CONFIG: {
        getCurrentUser: function () { return request({ category: 'CONFIG', type: 'CURRENT_USER' }); },
        GetCurrentEnvironment: function () { return request({ category: 'CONFIG', type: 'ORG_LEVEL_INFO' }); },
        getOrgInfo: function () { return request({ category: 'CONFIG', type: 'ORG' }); }
      },
      META: {
        getFields: function (config) {
          return request({ category: 'META', type: 'FIELD_LIST', Entity: config.Entity, Id: config.Id });
        }
      },
      CONNECTION: {
        invoke: function (connectionName, req) {
          return request({
            category: 'CRM_CONNECTION',
            connectionName: connectionName,
            data: {
              data: {
                url: req.url,
                method: req.method,
                param_type: req.param_type,
                parameters: stringified(req.parameters),
                headers: stringified(req.headers)
              }
            }
          });
        }
      }
    }
  };
})(window);
