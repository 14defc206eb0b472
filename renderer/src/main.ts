// Renderer entry: connect to the backend (MessagePort in Electron, WebSocket in a browser) and
// mount the app.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { createClient } from './lib/rpc/connect.ts';

const target = document.getElementById('app');
if (!target) throw new Error('#app missing from index.html');

const app = mount(App, { target, props: { rpc: createClient() } });

export default app;
