// A test SMSC: npm `smpp` in server mode, on 127.0.0.1, driven over stdin/stdout with one JSON object a line.
//
//   node smsc.js --port 2775 --system-id leadcenter --password secret [--receipts DELIVRD|UNDELIV|none]
//                [--latency-ms 20]   (each submit_sm_resp waits that long, like an SMSC across a network)
//
// It checks the bind's credentials, answers submit_sm with a message_id (unique across restarts), sends a
// delivery receipt per part, reassembles concatenated parts from their bytes and decodes them with npm smpp's
// own GSM 03.38 / UCS-2 coders, so the tests see the exact text a phone would.
//
// Commands (stdin):
//   {"cmd": "mo", "from": "+1...", "to": "+1...", "text": "...", "parts": 1}   a text from a phone (deliver_sm);
//        with parts > 1 the encoded bytes are cut into that many pieces anywhere (even inside an escape or a
//        surrogate pair: the receiver must join bytes before decoding); "to_ton", "to_npi", "from_ton",
//        "from_npi" set the addresses' type of number and numbering plan (default 1/1, international; the
//        address goes without its '+')
//   {"cmd": "receipts", "stat": "DELIVRD" | "UNDELIV" | "none", "to": "+1..." (optional: only for that number)}
//   {"cmd": "throttle", "count": 5, "status": 88}   answer the next 5 submit_sm with that error status
//   {"cmd": "throttle", "every": 10, "status": 88}  ... or every 10th submit_sm, until told otherwise
//   {"cmd": "reject", "to": "+1...", "status": 11}   refuse every submit_sm to that number with that status
//   {"cmd": "unbind"}                               the SMSC unbinds every session
//   {"cmd": "mute", "on": true}                     stop answering anything (a half-open peer)
// Events (stdout): listening, bind, submit (each accepted part), text (each whole message), throttled,
//   rejected, mo_resp (the ESME's deliver_sm_resp), unbind_resp, closed.
'use strict';

const readline = require('readline');
const smpp = require('smpp');
const defs = require('smpp/lib/defs');

// Raw bytes in and out: the filters would decode each part on its own, before reassembly.
delete defs.commands.submit_sm.params.short_message.filter;
delete defs.commands.deliver_sm.params.short_message.filter;

function option(name, fallback) {
  const at = process.argv.indexOf('--' + name);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const port = parseInt(option('port', '2775'), 10);
const systemId = option('system-id', 'leadcenter');
const password = option('password', 'secret');
const run = Date.now().toString(16);  // message ids stay unique when the SMSC is restarted
let nextId = 0;
let defaultStat = option('receipts', 'DELIVRD');
const latency = parseInt(option('latency-ms', '0'), 10);
const statByNumber = {};
const rejectByNumber = {};
let throttle = {count: 0, every: 0, status: 0x58};
let submits = 0;
let muted = false;
let moReference = 0;
const sessions = [];
const partial = {};

const STATES = {DELIVRD: 2, UNDELIV: 5, REJECTD: 8, EXPIRED: 3};

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function e164(address) {
  return /^\d+$/.test(address) ? '+' + address : address;
}

function decode(bytes, dataCoding) {
  return dataCoding === 8 ? defs.encodings.UCS2.decode(bytes) : defs.encodings.ASCII.decode(bytes);
}

function splitUdh(pdu) {
  const data = pdu.short_message;
  if (!(pdu.esm_class & 0x40)) return {info: null, body: data};
  const length = data[0];
  const header = data.slice(1, 1 + length);
  let info = null;
  for (let at = 0; at + 2 <= header.length; at += 2 + header[at + 1]) {
    if (header[at] === 0x00) info = {ref: header[at + 2], total: header[at + 3], number: header[at + 4]};
    if (header[at] === 0x08) info = {ref: header.readUInt16BE(at + 2), total: header[at + 4], number: header[at + 5]};
  }
  return {info, body: data.slice(1 + length)};
}

function receipt(session, pdu, messageId) {
  const to = e164(pdu.destination_addr);
  const stat = statByNumber[to] || defaultStat;
  if (stat === 'none' || !(pdu.registered_delivery & 0x01)) return;
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(2, 12);
  const text = `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${stamp} ` +
               `done date:${stamp} stat:${stat} err:${stat === 'DELIVRD' ? '000' : '001'} text:`;
  session.deliver_sm({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: pdu.destination_addr,
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: pdu.source_addr,
    esm_class: 0x04, data_coding: 0, short_message: Buffer.from(text, 'latin1'),
    receipted_message_id: messageId, message_state: STATES[stat] || 7,
  });
}

function submitted(session, pdu) {
  if (muted) return;
  const to = e164(pdu.destination_addr);
  submits += 1;
  const throttled = throttle.count > 0 || (throttle.every > 0 && submits % throttle.every === 0);
  if (throttled) {
    if (throttle.count > 0) throttle.count -= 1;
    emit({event: 'throttled', to, status: throttle.status});
    session.send(pdu.response({command_status: throttle.status}));
    return;
  }
  if (rejectByNumber[to]) {
    emit({event: 'rejected', to, status: rejectByNumber[to]});
    session.send(pdu.response({command_status: rejectByNumber[to]}));
    return;
  }
  nextId += 1;
  const messageId = `${run}-${nextId}`;
  const from = e164(pdu.source_addr);
  const {info, body} = splitUdh(pdu);
  emit({event: 'submit', message_id: messageId, from, to, data_coding: pdu.data_coding, udh: info,
        reference: pdu.user_message_reference === undefined ? null : pdu.user_message_reference,
        hex: body.toString('hex')});
  // Reported (stored) before the answer goes out, as an SMSC stores a message before acknowledging it.
  if (!info || info.total <= 1) {
    emit({event: 'text', from, to, text: decode(body, pdu.data_coding), parts: 1, message_ids: [messageId],
          data_coding: pdu.data_coding});
  } else {
    const key = `${from}|${to}|${info.ref}`;
    const entry = partial[key] = partial[key] || {parts: {}, ids: []};
    entry.parts[info.number] = body;
    entry.ids.push(messageId);
    if (Object.keys(entry.parts).length === info.total) {
      delete partial[key];
      const bytes = Buffer.concat(Array.from({length: info.total}, (_, i) => entry.parts[i + 1]));
      emit({event: 'text', from, to, text: decode(bytes, pdu.data_coding), parts: info.total,
            message_ids: entry.ids, data_coding: pdu.data_coding});
    }
  }
  const response = pdu.response({message_id: messageId});
  if (latency > 0) setTimeout(() => session.send(response), latency); else session.send(response);
  setTimeout(() => receipt(session, pdu, messageId), 5 + latency);
}

function ton(value) {
  return value === undefined ? 1 : value;  // international / E.164 unless the command says otherwise
}

function mo(command) {
  const session = sessions[sessions.length - 1];
  if (!session) {
    emit({event: 'error', message: 'no bound session for an MO text'});
    return;
  }
  const gsm = defs.encodings.ASCII.match(command.text);
  const bytes = gsm ? defs.encodings.ASCII.encode(command.text) : defs.encodings.UCS2.encode(command.text);
  const parts = command.parts || 1;
  moReference = (moReference + 1) % 256;
  const size = Math.ceil(bytes.length / parts);
  for (let i = 0; i < parts; i++) {
    let data = bytes.slice(i * size, (i + 1) * size);
    if (parts > 1) data = Buffer.concat([Buffer.from([5, 0, 3, moReference, parts, i + 1]), data]);
    session.deliver_sm({
      source_addr_ton: ton(command.from_ton), source_addr_npi: ton(command.from_npi),
      source_addr: command.from.replace('+', ''),
      dest_addr_ton: ton(command.to_ton), dest_addr_npi: ton(command.to_npi),
      destination_addr: command.to.replace('+', ''),
      esm_class: parts > 1 ? 0x40 : 0, data_coding: gsm ? 0 : 8, short_message: data,
    }, (resp) => emit({event: 'mo_resp', part: i + 1, parts, status: resp.command_status, from: command.from}));
  }
}

const server = smpp.createServer((session) => {
  session.socket.setNoDelay(true);
  let bound = false;
  session.on('error', () => {});
  session.on('close', () => {
    const at = sessions.indexOf(session);
    if (at >= 0) sessions.splice(at, 1);
    emit({event: 'closed'});
  });
  session.on('bind_transceiver', (pdu) => {
    const ok = pdu.system_id === systemId && pdu.password === password;
    emit({event: 'bind', system_id: pdu.system_id, ok});
    if (!ok) {
      session.send(pdu.response({command_status: 0x0E}));
      session.close();
      return;
    }
    bound = true;
    sessions.push(session);
    session.send(pdu.response({system_id: 'testsmsc'}));
  });
  session.on('submit_sm', (pdu) => {
    if (!bound) { session.send(pdu.response({command_status: 0x04})); return; }
    submitted(session, pdu);
  });
  session.on('enquire_link', (pdu) => { if (!muted) session.send(pdu.response()); });
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('unbind_resp', () => { emit({event: 'unbind_resp'}); session.close(); });
});

server.listen(port, '127.0.0.1', () => emit({event: 'listening', port}));

readline.createInterface({input: process.stdin}).on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  if (command.cmd === 'mo') mo(command);
  else if (command.cmd === 'receipts') {
    if (command.to) statByNumber[command.to] = command.stat; else defaultStat = command.stat;
  } else if (command.cmd === 'throttle') {
    throttle = {count: command.count || 0, every: command.every || 0, status: command.status || 0x58};
  }
  else if (command.cmd === 'reject') rejectByNumber[command.to] = command.status || 0x0B;
  else if (command.cmd === 'unbind') sessions.slice().forEach((s) => s.unbind());
  else if (command.cmd === 'mute') muted = !!command.on;
  emit({event: 'ok', cmd: command.cmd});
}).on('close', () => process.exit(0));
