// How an interaction reads, by its kind and direction: what it is called, what the lead's number and the
// tracking number are to it, who the agent was, and which of its facts mean something (talk time for calls, the
// message's length for voicemail). Every area that describes an interaction reads it here: the inbox rows, the
// panel, the timeline and the call view.

import { clock, icon } from './html.js';

const READINGS = {
  'call/inbound': { name: 'Inbound call', lead: 'Caller', line: 'Called', agent: 'Answered by', talk: true,
    outcomes: { callback: 'asked for a callback' } },
  // A queue callback's call: it waits in Incoming at the lead's place in the queue; the agent who takes it is
  // connected to a call to the lead (callback_of: the call in which the lead pressed 1).
  callback: { name: 'Callback', lead: 'Called', line: 'Caller ID', agent: 'Taken by', talk: true,
    outcomes: { missed: 'no answer' } },
  'call/outbound': { name: 'Outbound call', lead: 'Called', line: 'Caller ID', agent: 'Placed by', talk: true,
    outcomes: { missed: 'no answer' } },
  'voicemail/inbound': { name: 'Voicemail', lead: 'Caller', line: 'Called', message: true },
  'text/inbound': { name: 'Inbound text', lead: 'From', line: 'Texted', agent: 'Agent',
    outcomes: { timed_out: 'no response' } },
  'text/outbound': { name: 'Outbound text', lead: 'To', line: 'Sent from', agent: 'Agent',
    outcomes: { answered: 'closed' } },
  'chat/inbound': { name: 'Chat', lead: 'Phone', line: 'Line', agent: 'Agent',
    outcomes: { answered: 'ended', abandoned: 'visitor left', missed: 'missed' } },
  'form/inbound': { name: 'Form submission', lead: 'Phone', line: 'Line', agent: 'Agent',
    outcomes: { answered: 'closed' } },
  // A session on the company's website that joined the lead's timeline: its pages are listed, it has no status.
  'visit/inbound': { name: 'Website visit', lead: 'Phone', line: 'Number shown', visit: true },
};
const GENERIC = { name: 'Interaction', lead: 'Number', line: 'Tracking number', agent: 'Agent' };

const CHANNELS = new Set(['call', 'text', 'chat', 'voicemail', 'form', 'visit']); // each has an icon

export function channelOf(interaction) {
  return interaction.voicemail_url ? 'voicemail' : interaction.kind;
}

export function channelIcon(interaction) {
  const channel = channelOf(interaction);
  return icon(CHANNELS.has(channel) ? channel : 'interaction');
}

export function readingOf(interaction) {
  const reading = interaction.callback_of ? READINGS.callback
    : READINGS[`${channelOf(interaction)}/${interaction.direction}`];
  return reading || { ...GENERIC, name: capitalised(`${interaction.direction} ${channelOf(interaction)}`) };
}

export function outcomeOf(interaction) {
  const { outcome } = interaction;
  return outcome ? readingOf(interaction).outcomes?.[outcome] || outcome.replace('_', ' ') : '';
}

// Where the lead came from, as the server attributed it (a website visit's session, or the tracking number's
// source): [label, field, class], listed in this order when set.
const ATTRIBUTION = [
  ['Source', 'source', 'source'], ['Medium', 'medium', 'medium'], ['Campaign', 'campaign', 'campaign'],
  ['Keywords', 'keywords', 'keywords'], ['Landing page', 'landing_page', 'landing-page'],
  ['Referrer', 'referrer', 'referrer'], ['Click ID', 'click_id', 'click-id'],
];

export function attribution(interaction) {
  return ATTRIBUTION.filter(([, field]) => interaction[field])
    .map(([label, field, name]) => [label, interaction[field], `attribution ${name}`]);
}

// The facts the interaction panel lists, [label, value, class]: who and which line, then (unless it is the call
// the agent is on, whose timer and controls say the rest) status, start, talk time or message, agent; attribution.
export function facts(interaction, { live = false } = {}) {
  const reading = readingOf(interaction);
  const line = interaction.tracking_number;
  const named = [
    interaction.lead_number && [reading.lead, interaction.lead_number, 'lead-number'],
    line && [reading.line, `${line.name} (${line.number})`, 'tracking'],
  ];
  if (!live) {
    const status = interaction.status === 'recent' ? outcomeOf(interaction) || 'ended' : interaction.status;
    named.push(
      !reading.visit && ['Status', status, 'status'],
      ['Started', new Date(interaction.started_at).toLocaleString(), 'started'],
      reading.talk && interaction.talk_seconds !== null && ['Talk time', clock(interaction.talk_seconds), 'talk-time'],
      reading.message && interaction.voicemail_seconds !== null
        && ['Message', clock(interaction.voicemail_seconds), 'message-length'],
      reading.agent && interaction.agent && [reading.agent, interaction.agent.display_name, 'agent'],
    );
  }
  return [...named.filter(Boolean), ...attribution(interaction)];
}

function capitalised(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
