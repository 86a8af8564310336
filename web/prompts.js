// cellgate's prompts in JupyterLab: a side effect that waits for a person
// (a kernel's network request, a cell past its CPU quota, a principal's
// "ask" action; docs/policy.md) shows up as a notification the moment the
// server makes it, with its answers as buttons for whoever may give them.
//
// The server pushes prompts over GET /api/cellgate/events (Server-Sent
// Events): each one this browser's credential may see, as it is made and
// each time it changes. Someone else's pending prompt gets "Allow once",
// "Allow for session" and "Deny"; the viewer's own gets a notice that it
// waits. A settled prompt's notification goes away. EventSource reconnects
// by itself and sends Last-Event-ID, so nothing settled meanwhile is missed.
import { Notification } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

const ANSWERS = [
	['Allow once', 'allow_once', 'accent'],
	['Allow for session', 'allow_session', 'default'],
	['Deny', 'deny', 'warn'],
];

// What the prompt asks for, in one line a person can judge.
function describe(p) {
	const effect = p.action === 'effect';
	const what = effect ? p.effect : `${p.action} on ${p.resource}`;
	// an action's resource names its path already; an effect's is the kernel's notebook
	const where = effect && p.path ? ` in /${p.path}` : '';
	const cell = p.cell ? ` (cell ${p.cell.slice(0, 8)})` : '';
	return `${p.principal} asks: ${what}${where}${cell}`;
}

async function answer(settings, id, value) {
	const url = URLExt.join(settings.baseUrl, 'api/cellgate/prompts', id);
	const r = await ServerConnection.makeRequest(url, {
		method: 'POST',
		body: JSON.stringify({ answer: value }),
	}, settings);
	if (!r.ok) {
		const body = await r.json().catch(() => ({}));
		Notification.warning(`cellgate: the answer was not taken: ${body.message || r.status}`,
			{ autoClose: 5000 });
	}
}

// Who this browser is (GET /api/me), to tell its own prompts from those it answers.
async function whoAmI(settings) {
	const r = await ServerConnection.makeRequest(URLExt.join(settings.baseUrl, 'api/me'), {}, settings);
	const me = r.ok ? await r.json() : {};
	return me.cellgate?.principal || me.identity?.username || '';
}

function eventsUrl(settings) {
	const url = URLExt.join(settings.baseUrl, 'api/cellgate/events');
	// EventSource cannot set headers: a page opened with a token that
	// earned no cookie passes it in the query, as JupyterLab's WebSockets do
	const token = PageConfig.getToken();
	return token ? `${url}?token=${encodeURIComponent(token)}` : url;
}

function activate() {
	const settings = ServerConnection.makeSettings();
	const shown = new Map(); // prompt id -> notification id
	let me = null;

	const settle = id => {
		const note = shown.get(id);
		if (note !== undefined) {
			Notification.dismiss(note);
			shown.delete(id);
		}
	};
	const show = p => {
		if (shown.has(p.id))
			return;
		const mine = p.principal === me;
		const message = mine ? `Waiting for approval: ${describe(p)}` : describe(p);
		const actions = mine ? [] : ANSWERS.map(([label, value, displayType]) => ({
			label, displayType, caption: p.request || '',
			callback: () => { settle(p.id); answer(settings, p.id, value); },
		}));
		shown.set(p.id, Notification.emit(message, mine ? 'info' : 'warning',
			{ autoClose: false, actions, data: { cellgatePrompt: p.id } }));
	};
	const onPrompt = event => {
		let p;
		try {
			p = JSON.parse(event.data);
		} catch {
			return;
		}
		if (p.state === 'pending')
			show(p);
		else
			settle(p.id);
	};

	whoAmI(settings).then(name => {
		me = name;
		const source = new EventSource(eventsUrl(settings), { withCredentials: true });
		source.addEventListener('prompt', onPrompt);
	}).catch(err => console.warn('cellgate: no prompt notifications', err));
}

export default {
	id: '@cellgate/lab:prompts',
	description: 'Shows the prompts cellgate raises (side effects waiting for a person) and answers them.',
	autoStart: true,
	activate,
};
