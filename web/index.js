// The JupyterLab 4 application cellgate serves at /lab.
//
// The plugin list and the extensions' CSS come from a module the build
// generates (build.mjs, from package.json): `extensions` and
// `mimeExtensions` are the plugin modules, importing it also injects the CSS.
import { PageConfig, URLExt } from '@jupyterlab/coreutils';

// The chunks are loaded from the static URL the server puts in the page
// config, so the same bundle works under any base URL.
// eslint-disable-next-line no-undef
__webpack_public_path__ = URLExt.join(PageConfig.getOption('fullStaticUrl'), '/');

async function main() {
	const gen = await import('./extensions.gen.js');
	const extensions = await Promise.all(gen.extensions);
	const mimeExtensions = await Promise.all(gen.mimeExtensions);
	const { JupyterLab } = await import('@jupyterlab/application');
	const { IServiceManager } = await import('@jupyterlab/services');
	const { PluginRegistry } = await import('@lumino/coreutils');

	// Plugins listed in the page config's disabledExtensions are left out,
	// as in JupyterLab: that is how the server turns off features it lacks.
	const plugins = [];
	for (const mod of extensions) {
		const exported = mod.default;
		for (const plugin of Array.isArray(exported) ? exported : [exported]) {
			if (!PageConfig.Extension.isDisabled(plugin.id))
				plugins.push(plugin);
		}
	}
	// cellgate's own: prompts as notifications with their answers (prompts.js)
	const prompts = (await import('./prompts.js')).default;
	if (!PageConfig.Extension.isDisabled(prompts.id))
		plugins.push(prompts);
	const mimes = [];
	for (const mod of mimeExtensions) {
		const exported = mod.default;
		for (const ext of Array.isArray(exported) ? exported : [exported]) {
			if (!PageConfig.Extension.isDisabled(ext.id))
				mimes.push(ext);
		}
	}

	// The service manager itself is a plugin (@jupyterlab/services-extension)
	// since JupyterLab 4.4: resolve it before the application starts.
	const pluginRegistry = new PluginRegistry();
	pluginRegistry.registerPlugins(plugins);
	const serviceManager = await pluginRegistry.resolveRequiredService(IServiceManager);
	const lab = new JupyterLab({
		pluginRegistry,
		serviceManager,
		mimeExtensions: mimes,
	});
	await lab.start({ bubblingKeydown: true });
	await lab.restored;
	if (PageConfig.getOption('exposeAppInBrowser').toLowerCase() === 'true')
		window.jupyterapp = lab;
	document.body.dataset.cellgateLab = 'ready';
}

window.addEventListener('load', () => {
	main().catch(err => {
		console.error('cellgate: JupyterLab failed to start', err);
	});
});
