// Teams: each team is one queue. The list (#/teams) with a form to make one; a team's page (#/teams/3): its members
// in order with their penalties, the strategy, ring time, maximum wait, what a ring-out does to an agent, wrap-up
// (Rejoin, or automatic after N seconds), the announcements, its own hold music and whether it gets the website's
// chats. Every save goes through the API (PATCH /api/v1/teams/{id}), which re-renders the queue in Asterisk.

import { api } from '../api.js';
import { html, render } from '../html.js';
import { readOnly, saveForm, showErrors } from './forms.js';

export const STRATEGIES = {
  leastrecent: 'Longest idle agent first',
  rrmemory: 'Round robin (remembers who was last)',
  fewestcalls: 'Fewest calls first',
  random: 'Random',
  linear: 'In the members\u2019 order',
  ringall: 'Ring everyone at once',
};
const RING_OUTS = {
  unavailable: 'Unavailable until they choose Available',
  available: 'Stays available',
};

export const page = {
  id: 'teams',
  title: 'Teams',
  icon: 'team',
  role: 'supervisor',
  async show(root, ctx, path) {
    const teamId = path[0] ? Number(path[0]) : null;
    const view = { teams: [], agents: [], members: null };

    async function load() {
      const [teams, agents] = await Promise.all([api('GET', '/api/v1/teams'), api('GET', '/api/v1/agents')]);
      Object.assign(view, { teams, agents });
      const team = teams.find((t) => t.id === teamId);
      if (team && view.members === null) view.members = [...team.members];
      draw();
    }

    function draw() {
      const team = view.teams.find((t) => t.id === teamId);
      if (teamId !== null && !team) {
        render(root, html`<h1>Teams</h1><p>No such team. <a href="#/teams">All teams</a></p>`);
        return;
      }
      if (!root.querySelector(team ? '#teams-members' : '#teams-list')) return; // the page is not laid out yet
      if (team) {
        render(root.querySelector('#teams-members'), membersTable(team, view, ctx));
        render(root.querySelector('#teams-music'), music(team));
      } else {
        render(root.querySelector('#teams-list'), teamsTable(view));
      }
      readOnly(root, ctx);
    }

    function agentName(id) {
      return view.agents.find((a) => a.id === id)?.display_name ?? `Agent ${id}`;
    }

    function membersTable(team, { members }) {
      if (!members.length) return html`<p>No members yet: add agents below.</p>`;
      return html`<table class="rows team-members">
        <thead><tr><th>Order</th><th>Agent</th><th>Penalty</th><th></th></tr></thead>
        <tbody>${members.map((id, index) => html`
          <tr data-key="member-${id}">
            <td>${index + 1}</td>
            <td>${agentName(id)}</td>
            <td><input type="number" min="0" max="100" name="penalties.${id}" aria-label="Penalty of ${agentName(id)}"
              value="${team.penalties[String(id)] ?? 0}"></td>
            <td class="row-actions">
              <button type="button" data-action="up" data-id="${id}" ${index === 0 ? 'disabled' : ''}
                aria-label="Move ${agentName(id)} up">Up</button>
              <button type="button" data-action="down" data-id="${id}" ${index === members.length - 1 ? 'disabled' : ''}
                aria-label="Move ${agentName(id)} down">Down</button>
              <button type="button" data-action="drop" data-id="${id}" aria-label="Remove ${agentName(id)}">Remove</button>
            </td>
          </tr>`)}</tbody></table>
        <small class="field-error" data-for="members"></small>`;
    }

    function teamsTable({ teams, agents }) {
      if (!teams.length) return html`<p>No teams yet.</p>`;
      const names = Object.fromEntries(agents.map((a) => [a.id, a.display_name]));
      return html`<table class="rows teams-rows">
        <thead><tr><th>Team</th><th>Strategy</th><th>Members</th><th>Wrap-up</th><th>Chats</th></tr></thead>
        <tbody>${teams.map((t) => html`
          <tr data-key="team-${t.id}">
            <td><a href="#/teams/${t.id}">${t.name}</a></td>
            <td>${STRATEGIES[t.strategy] ?? t.strategy}</td>
            <td>${t.members.map((id) => names[id] ?? `Agent ${id}`).join(', ') || '\u2014'}</td>
            <td>${wrapUpText(t.wrap_up_seconds)}</td>
            <td>${t.chats ? html`<span class="badge">Website chats</span>` : ''}</td>
          </tr>`)}</tbody></table>`;
    }

    function music(team) {
      const url = `/api/v1/teams/${team.id}/music`;
      return html`<div class="prompt">
        ${team.music ? html`<audio controls preload="none" src="${url}"></audio>`
          : html`<p><small>Callers hear the standard hold music.</small></p>`}
        <div class="actions">
          <label class="upload">Upload a WAV file (up to 2 minutes) <input type="file" accept="audio/wav,.wav" id="team-music" data-edit></label>
          ${team.music ? html`<button type="button" data-action="standard-music" data-edit>Use the standard music</button>` : ''}
        </div></div>`;
    }

    if (teamId === null) {
      root.innerHTML = html`
        <h1>Teams</h1>
        <section class="panel-box"><h2>Teams</h2><div id="teams-list"></div></section>
        ${ctx.canEdit() ? html`
        <section class="panel-box" aria-labelledby="new-team-heading">
          <h2 id="new-team-heading">New team</h2>
          <form id="new-team">
            <div class="form-row">
              <label>Name <input name="name" required autocomplete="off"></label>
              <label>Strategy ${strategySelect('leastrecent')}</label>
            </div>
            <fieldset class="team-agents" id="new-team-agents"><legend>Members</legend></fieldset>
            <small class="field-error" data-for="members"></small>
            <div class="actions"><button type="submit" class="primary">Create team</button></div>
            <p role="alert"></p>
          </form>
        </section>` : ''}`.toString();
      await load();
      const picker = root.querySelector('#new-team-agents');
      if (picker) {
        picker.insertAdjacentHTML('beforeend', view.agents.map((a) => html`
          <label><input type="checkbox" name="members" value="${a.id}"> ${a.display_name}</label>`.toString()).join(''));
      }
      const form = root.querySelector('#new-team');
      form?.addEventListener('submit', async (event) => {
        event.preventDefault();
        const made = await saveForm(form, (values) => api('POST', '/api/v1/teams', {
          name: values.name,
          strategy: values.strategy,
          members: [form.elements.namedItem('members')].flatMap(checkedValues).map(Number),
        }));
        if (!made) return;
        ctx.toast(`Team ${made.name} created`);
        ctx.go(`#/teams/${made.id}`);
      });
      return ctx.onEvent('team.created', load);
    }

    await load();
    const team = view.teams.find((t) => t.id === teamId);
    if (!team) return undefined;
    root.innerHTML = html`
      <h1><a href="#/teams" class="back" aria-label="All teams">Teams</a> / ${team.name}</h1>
      <form id="team-form" novalidate>
        <section class="panel-box" aria-labelledby="routing-heading">
          <h2 id="routing-heading">How calls are offered</h2>
          <div class="form-row">
            <label>Name <input name="name" required value="${team.name}" autocomplete="off"></label>
            <label>Strategy ${strategySelect(team.strategy)}</label>
          </div>
          <div class="form-row">
            <label>Ring each agent for (seconds) <input type="number" name="ring_seconds" min="5" max="300" value="${team.ring_seconds}"></label>
            <label>Callers wait at most (seconds) <input type="number" name="max_wait_seconds" min="10" max="7200" value="${team.max_wait_seconds}"></label>
          </div>
          <p class="hint"><small>After the maximum wait the call goes on to the flow's next step (voicemail, another team\u2026), unless the flow's queue step sets its own.</small></p>
          <div class="form-row">
            <label>An agent who lets a call ring out
              <select name="ring_out">${Object.entries(RING_OUTS).map(([value, text]) => html`
                <option value="${value}" ${value === team.ring_out ? 'selected' : ''}>${text}</option>`)}</select></label>
            <label>After a call (wrap-up)
              <select name="wrap_up_mode">
                <option value="rejoin" ${team.wrap_up_seconds === null ? 'selected' : ''}>Until they press Rejoin the Queue</option>
                <option value="auto" ${team.wrap_up_seconds !== null ? 'selected' : ''}>Available again after some seconds</option>
              </select></label>
            <label>Wrap-up seconds <input type="number" name="wrap_up_seconds" min="0" max="3600"
              value="${team.wrap_up_seconds ?? 30}" ${team.wrap_up_seconds === null ? 'disabled' : ''}></label>
          </div>
          <div class="form-row">
            <label>Service level: answered within (seconds) <input type="number" name="service_level_seconds" min="1" max="3600" value="${team.service_level_seconds}"></label>
          </div>
          <p class="hint"><small>The team's service level on the Reports page is the share of its queue's calls answered within this many seconds of calling.</small></p>
          <label><input type="checkbox" name="chats" ${team.chats ? 'checked' : ''}> The website's chats go to this team</label>
        </section>
        <section class="panel-box" aria-labelledby="members-heading">
          <h2 id="members-heading">Members</h2>
          <p class="hint"><small>Calls are offered to the lowest penalty first; "In the members' order" rings them in this order.</small></p>
          <div id="teams-members"></div>
          <div class="form-row">
            <label>Add an agent <select id="add-member" data-edit><option value="">Choose\u2026</option>
              ${view.agents.filter((a) => !view.members.includes(a.id)).map((a) => html`<option value="${a.id}">${a.display_name}</option>`)}
            </select></label>
          </div>
        </section>
        <section class="panel-box" aria-labelledby="callers-heading">
          <h2 id="callers-heading">What waiting callers hear</h2>
          <label><input type="checkbox" name="announce_position" ${team.announce_position ? 'checked' : ''}> Their place in the queue</label>
          <label><input type="checkbox" name="announce_wait_time" ${team.announce_wait_time ? 'checked' : ''}> About how long they will wait</label>
          <label>Repeat every (seconds) <input type="number" name="announce_seconds" min="15" max="600" value="${team.announce_seconds}"></label>
          <div id="teams-music"></div>
        </section>
        <section class="panel-box" aria-labelledby="callback-heading">
          <h2 id="callback-heading">Callbacks</h2>
          <label><input type="checkbox" name="callback_enabled" ${team.callback_enabled ? 'checked' : ''}> Waiting callers may press 1 to be called back, keeping their place</label>
          <div class="form-row">
            <label>Dial the lead at most (times) <input type="number" name="callback_attempts" min="1" max="10" value="${team.callback_attempts}"></label>
            <label>Try again after (seconds) <input type="number" name="callback_retry_seconds" min="30" max="86400" value="${team.callback_retry_seconds}"></label>
          </div>
          <p class="hint"><small>When their place comes up, the agent who takes it is connected to a call to the lead, from the number they called.</small></p>
        </section>
        <div class="actions">
          <button type="submit" class="primary">Save</button>
          <button type="button" data-action="delete" class="danger" data-edit>Delete team</button>
        </div>
        <p role="alert"></p>
      </form>`.toString();
    draw();

    const form = root.querySelector('#team-form');
    const drawMembers = () => {
      const current = view.teams.find((t) => t.id === teamId);
      // Keep the penalties typed but not yet saved.
      const typed = Object.fromEntries([...form.querySelectorAll('input[name^="penalties."]')]
        .map((input) => [input.name.slice('penalties.'.length), Number(input.value)]));
      render(root.querySelector('#teams-members'), membersTable({ ...current, penalties: { ...current.penalties, ...typed } }, view, ctx));
      const add = root.querySelector('#add-member');
      add.innerHTML = html`<option value="">Choose\u2026</option>${view.agents.filter((a) => !view.members.includes(a.id))
        .map((a) => html`<option value="${a.id}">${a.display_name}</option>`)}`.toString();
      readOnly(root, ctx);
    };
    const actions = {
      up: ({ dataset }) => move(Number(dataset.id), -1),
      down: ({ dataset }) => move(Number(dataset.id), 1),
      drop: ({ dataset }) => { view.members = view.members.filter((id) => id !== Number(dataset.id)); drawMembers(); },
      async 'standard-music'() {
        await api('DELETE', `/api/v1/teams/${teamId}/music`);
        ctx.toast('Callers hear the standard hold music');
        await load();
      },
      async delete() {
        if (!window.confirm(`Delete the team ${team.name}?`)) return;
        try {
          await api('DELETE', `/api/v1/teams/${teamId}`);
        } catch (failure) {
          showErrors(form, failure);
          return;
        }
        ctx.toast(`Team ${team.name} deleted`);
        ctx.go('#/teams');
      },
    };
    function move(id, by) {
      const at = view.members.indexOf(id);
      const to = at + by;
      if (to < 0 || to >= view.members.length) return;
      [view.members[at], view.members[to]] = [view.members[to], view.members[at]];
      drawMembers();
    }
    // The console's root outlives this page: its listeners go with the page (the cleanup below).
    const onClick = (event) => {
      const element = event.target.closest('button[data-action]');
      if (!element || !Object.hasOwn(actions, element.dataset.action)) return;
      Promise.resolve(actions[element.dataset.action](element)).catch((failure) => ctx.toast(failure.message));
    };
    const onChange = async (event) => {
      if (event.target.id === 'add-member' && event.target.value) {
        view.members.push(Number(event.target.value));
        drawMembers();
      } else if (event.target.name === 'wrap_up_mode') {
        form.elements.namedItem('wrap_up_seconds').disabled = event.target.value !== 'auto';
      } else if (event.target.id === 'team-music' && event.target.files.length) {
        try {
          await api('PUT', `/api/v1/teams/${teamId}/music`, new Blob([event.target.files[0]], { type: 'audio/wav' }));
          ctx.toast('The team\u2019s hold music is playing to its callers');
        } catch (failure) {
          ctx.toast(failure.message);
        }
        await load();
      }
    };
    root.addEventListener('click', onClick);
    root.addEventListener('change', onChange);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const saved = await saveForm(form, ({ wrap_up_mode: mode, penalties, ...values }) => api('PATCH', `/api/v1/teams/${teamId}`, {
        ...values,
        wrap_up_seconds: mode === 'auto' ? values.wrap_up_seconds : null,
        members: view.members,
        penalties: Object.fromEntries(Object.entries(penalties || {}).filter(([id]) => view.members.includes(Number(id)))),
      }));
      if (!saved) return;
      ctx.toast(`${saved.name} saved: live in the queue`);
      view.members = [...saved.members];
      await load();
    });
    const unsubscribe = ctx.onEvent('team.updated', (data) => {
      if (data.team?.id === teamId) load();
    });
    return () => {
      unsubscribe();
      root.removeEventListener('click', onClick);
      root.removeEventListener('change', onChange);
    };
  },
};

function strategySelect(chosen) {
  return html`<select name="strategy">${Object.entries(STRATEGIES).map(([value, text]) => html`
    <option value="${value}" ${value === chosen ? 'selected' : ''}>${text}</option>`)}</select>`;
}

function wrapUpText(seconds) {
  return seconds === null ? 'Until Rejoin' : `${seconds} s`;
}

function checkedValues(control) {
  if (!control) return [];
  const controls = control instanceof RadioNodeList ? [...control] : [control];
  return controls.filter((c) => c.checked).map((c) => c.value);
}
