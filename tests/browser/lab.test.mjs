// The JupyterLab cellgate serves, used the way a researcher uses it, in
// Debian's Chromium driven by playwright-core (which never downloads a
// browser). Runs against a server that is already up:
//
//   CELLGATE_URL, CELLGATE_TOKEN   the server (tests/integration/py/serve.py
//                                  starts one and sets them; `make browser-test`)
//   SCREENSHOTS                    where the step screenshots go
//                                  (default build/browser-test)
//   BROWSER_TIMEOUT                seconds for the whole session (900)
//   STEP_TIMEOUT                   seconds one step may wait (120)
//   CHROMIUM                       the browser (default /usr/bin/chromium)
//   CELLGATE_BIN, CELLGATE_STATE,  to mint the agent's token (the server runs
//   CELLGATE_POLICY                with --policy CELLGATE_POLICY)
//
// Steps: open /lab?token=..., create a Python notebook from the launcher,
// run a cell that prints and one that returns a value, render Markdown with
// a LaTeX formula (MathJax), save, reload and find the notebook with its
// outputs, restart the kernel from the Kernel menu, then a notebook in each
// native kernel (PARI/GP, GAP) running a cell, switching to the dark theme
// on the way; and a prompt: an agent (tests/browser/policy.json) must ask
// to write a file, the prompt appears in the page as a notification, and
// its "Allow once" button lets the agent's write through. Any browser console error,
// uncaught page error, or response with status 404 or >= 500 fails the run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const base = (process.env.CELLGATE_URL || '').replace(/\/$/, '');
const token = process.env.CELLGATE_TOKEN || '';
const shots = path.resolve(process.env.SCREENSHOTS || path.join(repo, 'build', 'browser-test'));
const budget = Number(process.env.BROWSER_TIMEOUT || 900) * 1000;
// generous: the machine is shared and kernels start in a sandbox
const NAME = 'Untitled.ipynb';
const WAIT = Number(process.env.STEP_TIMEOUT || 120) * 1000;

if (!base || !token) {
	console.error('lab.test: set CELLGATE_URL and CELLGATE_TOKEN (or run `make browser-test`)');
	process.exit(2);
}

const problems = [];
const started = Date.now();
let step = 0;

function log(msg) {
	console.log(`browser-test [${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

const scrub = s => s.replaceAll(token, '<token>');

async function shot(page, name) {
	const file = path.join(shots, `${String(++step).padStart(2, '0')}-${name}.png`);
	await page.screenshot({ path: file });
	log(`screenshot ${path.relative(repo, file)}`);
}

function watch(page) {
	if (process.env.DEBUG_WS) {
		page.on('websocket', ws => {
			log(`ws open ${scrub(ws.url())}`);
			const kind = f => {
				const d = typeof f.payload === 'string' ? f.payload : f.payload.toString('latin1');
				return (d.match(/"msg_type":\s*"(\w+)"/) || [])[1];
			};
			ws.on('framereceived', f => log(`ws rx ${kind(f)}`));
			ws.on('framesent', f => log(`ws tx ${kind(f)}`));
			ws.on('close', () => log(`ws closed ${scrub(ws.url())}`));
		});
	}
	page.on('console', msg => {
		if (msg.type() === 'error')
			problems.push(`console error: ${scrub(msg.text())}`);
	});
	page.on('pageerror', err => problems.push(`uncaught page error: ${scrub(String(err))}`));
	page.on('response', res => {
		if (res.status() === 404 || res.status() >= 500)
			problems.push(`HTTP ${res.status()} ${res.request().method()} ${scrub(res.url())}`);
	});
	page.on('requestfailed', req => {
		// a page navigation cancels what the old page had in flight
		const why = req.failure()?.errorText || '';
		if (!why.includes('ERR_ABORTED'))
			problems.push(`request failed: ${req.method()} ${scrub(req.url())}: ${why}`);
	});
}

// withToken: the URL carries the token (the first visit, as the URL the
// server prints); without it, the login cookie that visit set does the work,
// and the page holds no token: every request then goes with the cookie and
// the _xsrf double submit, as after a browser restart in Jupyter.
async function openLab(page, where, withToken = true) {
	const query = withToken ? `${where.includes('?') ? '&' : '?'}token=${token}` : '';
	await page.goto(`${base}${where}${query}`);
	await page.locator('body[data-cellgate-lab="ready"]').waitFor({ state: 'attached', timeout: WAIT });
}

// The notebook in the current tab, once its kernel is idle.
function activeNotebook(page) {
	return page.locator('.jp-NotebookPanel:visible');
}

// Idle once connected: the status bar says "<kernel> | Idle" only when the
// session's kernel answered (before that the toolbar's indicator already
// reads idle, and a cell run then is dropped).
async function waitIdle(page, kernelTitle) {
	await page.locator('.jp-StatusBar-TextItem', { hasText: `${kernelTitle} | Idle` })
		.first().waitFor({ timeout: WAIT });
	await activeNotebook(page)
		.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
		.waitFor({ timeout: WAIT });
}

async function newNotebookFromLauncher(page, kernelTitle) {
	await page.locator('.jp-FileBrowser [data-command="launcher:create"]').first().click();
	const card = page.locator(
		`.jp-LauncherCard[data-category="Notebook"][title="${kernelTitle}"]:visible`);
	await card.first().waitFor({ timeout: WAIT });
	await card.first().click();
	await activeNotebook(page).locator('.jp-Cell').first().waitFor({ timeout: WAIT });
	await waitIdle(page, kernelTitle);
}

// Types code into the active cell and runs it (Shift+Enter moves on to a
// new cell below when it was the last one).
async function runCell(page, code) {
	const cells = activeNotebook(page).locator('.jp-Cell');
	const index = await cells.evaluateAll(els => els.findIndex(el => el.classList.contains('jp-mod-active')));
	const cell = cells.nth(index);
	await cell.locator('.cm-content').click();
	await page.keyboard.type(code);
	await page.keyboard.press('Shift+Enter');
	return cell;
}

async function outputOf(cell, text) {
	const out = cell.locator('.jp-OutputArea-output').filter({ hasText: text });
	try {
		await out.first().waitFor({ timeout: WAIT });
	} catch (err) {
		const html = await cell.evaluate(el => el.outerHTML).catch(() => '(gone)');
		console.error(`no output with "${text}" in: ${html.slice(0, 3000)}`);
		throw err;
	}
	return out;
}

// An agent whose writes need a person's approval asks to write a file: the
// server answers 202 with a pending prompt, the page (logged in with the
// server's token, which may answer any prompt) shows it as a notification,
// and its "Allow once" button lets the agent's next identical write through.
async function approvePrompt(page) {
	const policy = process.env.CELLGATE_POLICY, state = process.env.CELLGATE_STATE;
	if (!policy || !state)
		throw new Error('set CELLGATE_POLICY and CELLGATE_STATE (or run `make browser-test`)');
	log('an agent asks to write; approve it from the notification');
	const bin = process.env.CELLGATE_BIN || path.join(repo, 'bin', 'cellgate');
	const bot = execFileSync(bin, ['token', 'mint', '--principal', 'bot', '--policy', policy,
		'--state', state]).toString().trim();
	const write = () => fetch(`${base}/api/contents/asked.txt`, {
		method: 'PUT',
		headers: { Authorization: `token ${bot}`, 'Content-Type': 'application/json' },
		body: JSON.stringify({ type: 'file', format: 'text', content: 'approved in the browser' }),
	});
	let r = await write();
	const asked = await r.json();
	if (r.status !== 202 || asked.status !== 'pending')
		throw new Error(`the agent's write was not held for a prompt: HTTP ${r.status} ${JSON.stringify(asked)}`);
	const toast = page.locator('.Toastify__toast', { hasText: 'bot asks: write' });
	await toast.waitFor();
	await page.waitForTimeout(800); // the toast slides in
	await shot(page, 'prompt');
	await toast.getByRole('button', { name: 'Allow once' }).click();
	await toast.waitFor({ state: 'detached' });
	const state_of = async () => (await (await fetch(`${base}/api/cellgate/prompts/${asked.prompt.id}`, {
		headers: { Authorization: `token ${token}` },
	})).json()).state;
	for (const end = Date.now() + WAIT; (await state_of()) !== 'allowed_once';
		await new Promise(res => setTimeout(res, 300))) {
		if (Date.now() > end)
			throw new Error(`the prompt was not answered from the page: ${await state_of()}`);
	}
	r = await write();
	if (r.status !== 201 && r.status !== 200)
		throw new Error(`the approved write failed: HTTP ${r.status} ${await r.text()}`);
	log('the agent\'s write went through once a person allowed it in the page');
}

async function main() {
	fs.rmSync(shots, { recursive: true, force: true });
	fs.mkdirSync(shots, { recursive: true });
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	try {
		const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
		page.setDefaultTimeout(WAIT);
		watch(page);

		// A user setting, saved the way the settings editor saves it (JSON
		// with comments): the first save of an Untitled notebook then keeps
		// its name instead of asking for one.
		const put = await fetch(`${base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin`, {
			method: 'PUT',
			headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
			body: JSON.stringify({ raw: '{\n  // keep the name on first save\n  "renameUntitledFileOnSave": false,\n}\n' }),
		});
		if (put.status !== 204)
			throw new Error(`PUT settings: HTTP ${put.status} ${await put.text()}`);

		log('open /lab');
		await openLab(page, '/lab');
		await page.locator('.jp-Launcher').first().waitFor();
		await shot(page, 'launcher');

		log('new Python notebook');
		await newNotebookFromLauncher(page, 'Python 3 (ipykernel)');
		await shot(page, 'python-notebook');

		const printed = await runCell(page, 'msg = "hello from cellgate"\nprint(msg)');
		await outputOf(printed, 'hello from cellgate');
		const returned = await runCell(page, '6 * 7');
		const result = await outputOf(returned, '42');
		if (!(await result.first().evaluate(el => !!el.closest('.jp-OutputArea-executeResult'))))
			throw new Error('6 * 7 did not come back as an execute_result');
		log('print and return value shown');

		// the new cell below becomes Markdown: Esc, m, Enter to edit
		await page.keyboard.press('Escape');
		await page.keyboard.press('m');
		await page.keyboard.press('Enter');
		await page.keyboard.type('## Euler\n\n$$e^{i\\pi} + 1 = 0$$');
		await page.keyboard.press('Shift+Enter');
		const math = activeNotebook(page).locator('.jp-MarkdownCell .jp-RenderedMarkdown mjx-container');
		await math.first().waitFor();
		log('Markdown with LaTeX rendered by MathJax');
		await shot(page, 'outputs-and-math');

		log('save');
		// no rename dialog: the user setting stored before the page opened
		await page.keyboard.press('Control+s');
		await page.waitForFunction(() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty'),
			null, { timeout: WAIT });
		// what the server stored: the outputs and the Markdown source
		let texts = '';
		for (const end = Date.now() + WAIT; Date.now() < end; await new Promise(r => setTimeout(r, 500))) {
			const saved = await (await fetch(`${base}/api/contents/${NAME}`, {
				headers: { Authorization: `token ${token}` },
			})).json();
			texts = JSON.stringify(saved.content?.cells?.map(c => c.outputs || c.source));
			if (texts.includes('hello from cellgate') && texts.includes('42') && texts.includes('e^{i\\\\pi}'))
				break;
		}
		if (!texts.includes('hello from cellgate') || !texts.includes('42') || !texts.includes('e^{i\\\\pi}'))
			throw new Error(`the saved notebook lacks its outputs: ${texts.slice(0, 400)}`);

		log('reload, with the login cookie instead of the token');
		await openLab(page, `/lab/tree/${NAME}`, false);
		await outputOf(activeNotebook(page), 'hello from cellgate');
		await outputOf(activeNotebook(page), '42');
		await activeNotebook(page).locator('.jp-MarkdownCell mjx-container').first().waitFor();
		await waitIdle(page, 'Python 3 (ipykernel)');
		// and the file browser lists it: the listing came with the cookie too
		await page.locator('.jp-DirListing-item', { hasText: NAME }).first().waitFor({ timeout: WAIT });
		await shot(page, 'reloaded');

		log('restart the kernel from the Kernel menu');
		await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Kernel$/ }).click();
		await page.locator('.lm-Menu-itemLabel', { hasText: /^Restart Kernel…$/ }).click();
		await page.locator('.jp-Dialog').waitFor();
		await shot(page, 'restart-dialog');
		await page.locator('.jp-Dialog .jp-mod-accept').click();
		await page.locator('.jp-Dialog').waitFor({ state: 'detached' });
		await waitIdle(page, 'Python 3 (ipykernel)');
		// a fresh interpreter: what the first cell defined is gone
		await activeNotebook(page).locator('.jp-Cell').last().click();
		const fresh = await runCell(page, '"msg" in globals()');
		await outputOf(fresh, 'False');
		log('kernel restarted (state gone)');
		await shot(page, 'restarted');

		log('switch to the dark theme from the Settings menu');
		await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Settings$/ }).click();
		await page.locator('.lm-Menu-itemLabel', { hasText: /^Theme$/ }).hover();
		await page.locator('.lm-Menu-itemLabel', { hasText: /^JupyterLab Dark$/ }).click();
		await page.locator('body[data-jp-theme-name="JupyterLab Dark"]').waitFor({ state: 'attached' });
		// JupyterLab saved it through the settings API
		for (const end = Date.now() + WAIT; ; await new Promise(r => setTimeout(r, 500))) {
			const themes = await (await fetch(`${base}/lab/api/settings/@jupyterlab/apputils-extension:themes`, {
				headers: { Authorization: `token ${token}` },
			})).json();
			if (themes.settings?.theme === 'JupyterLab Dark')
				break;
			if (Date.now() > end)
				throw new Error(`the theme setting was not saved: ${JSON.stringify(themes.settings)}`);
		}
		await shot(page, 'dark-theme');

		await approvePrompt(page);

		for (const [title, code, expect] of [
			['PARI/GP', 'factor(2^64 + 1)', '274177'],
			['GAP', 'Size(SymmetricGroup(5));', '120'],
		]) {
			log(`new ${title} notebook`);
			await newNotebookFromLauncher(page, title);
			const cell = await runCell(page, code);
			await outputOf(cell, expect);
			log(`${title} answered ${expect}`);
			await shot(page, title.replace(/\W+/g, '-').toLowerCase());
		}
		// late console errors and requests get a moment to show up
		await page.waitForTimeout(2000);
	} catch (err) {
		const page = browser.contexts()[0]?.pages()[0];
		if (page)
			await shot(page, 'failure').catch(() => {});
		throw err;
	} finally {
		await browser.close();
	}
}

const timer = setTimeout(() => {
	console.error(`browser-test: FAILED: the session took longer than ${budget / 1000}s`);
	process.exit(1);
}, budget);

try {
	await main();
} catch (err) {
	problems.unshift(`step failed: ${scrub(err.stack || String(err))}`);
}
clearTimeout(timer);
if (problems.length) {
	console.error(`browser-test: FAILED (${problems.length}); screenshots in ${shots}`);
	for (const p of problems)
		console.error(`  ${p}`);
	process.exit(1);
}
log(`passed; screenshots in ${path.relative(repo, shots)}`);
