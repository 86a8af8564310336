// Bundles index.js and the JupyterLab packages into $LAB_OUT/static.
//
// main.js has a fixed name (the page links it; the server sends it with
// no-cache); every other file has a content hash in its name, so the server
// may tell browsers to keep it forever.
const path = require('path');
const webpack = require('webpack');
const svgToDataUri = require('mini-svg-data-uri');

const out = path.resolve(process.env.LAB_OUT || path.join(__dirname, '..', 'build', 'lab'));

module.exports = {
	mode: 'production',
	entry: { main: path.join(__dirname, 'index.js') },
	context: __dirname,
	output: {
		path: path.join(out, 'static'),
		filename: '[name].js',
		chunkFilename: '[name].[contenthash:20].js',
		assetModuleFilename: '[name].[contenthash:20][ext]',
		clean: true,
	},
	devtool: false,
	performance: { hints: false },
	stats: 'errors-warnings',
	bail: true,
	cache: {
		type: 'filesystem',
		cacheDirectory: path.join(out, '..', 'webpack-cache'),
		buildDependencies: { config: [__filename] },
	},
	resolve: {
		modules: ['node_modules', path.join(__dirname, 'node_modules')],
		fallback: {
			url: false,
			buffer: false,
			crypto: false,
			path: require.resolve('path-browserify'),
			process: require.resolve('process/browser'),
		},
	},
	module: {
		rules: [
			{ test: /\.css$/, use: ['style-loader', 'css-loader'] },
			{ test: /\.(txt|md)$/, type: 'asset/source' },
			{ test: /\.(jpe?g|png|gif|ico|eot|ttf|map|woff2?)(\?v=\d+\.\d+\.\d+)?$/, type: 'asset/resource' },
			// svg in CSS becomes a data: URI; svg imported by JS (the
			// icons of @jupyterlab/ui-components) is the svg text.
			{
				test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
				issuer: /\.css$/,
				type: 'asset',
				generator: { dataUrl: content => svgToDataUri(content.toString()) },
			},
			{ test: /\.svg(\?v=\d+\.\d+\.\d+)?$/, issuer: /\.[cm]?js$/, type: 'asset/source' },
			// The packages' ES modules import without file extensions.
			{ test: /\.m?js$/, resolve: { fullySpecified: false } },
		],
	},
	plugins: [new webpack.ProvidePlugin({ process: 'process/browser' })],
};
