/** The new-search page (`#/new`): a spec in YAML or JSON, checked by the server, every problem listed by field. */
import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { app, setLive } from './page.js';

const EXAMPLE = `# A spec in YAML or JSON (see examples/ in the repository).
name: my-search
dataset: { source: mnist, validation: 0.1 }
space:
  kind: chain
  depth: { int: [1, 3] }
  layer:
    type: { choice: [conv2d, dense] }
    width: { choice: [16, 32, 64] }
objectives: [ { metric: val_accuracy, goal: max } ]
strategy: bo
budget: { minutes: 10 }
`;

/** Draws the form. */
export function renderNew(): void {
  setLive(false);
  const text = h('textarea', { id: 'spec', spellcheck: 'false', 'aria-label': 'experiment spec' });
  text.value = sessionStorage.getItem('nasflow.spec') ?? EXAMPLE;
  const errors = h('div', { id: 'spec-result' });
  const button = h('button', { id: 'submit', class: 'primary' }, 'Submit and start');
  button.addEventListener('click', () => {
    sessionStorage.setItem('nasflow.spec', text.value);
    button.disabled = true;
    errors.replaceChildren(h('p', { class: 'muted' }, 'Checking the spec…'));
    api
      .submit(text.value)
      .then((e) => {
        location.hash = `#/experiments/${encodeURIComponent(e.id)}`;
      })
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.body.errors?.length) {
          errors.replaceChildren(
            h('p', {}, h('strong', {}, `The spec has ${e.body.errors.length} problem${e.body.errors.length > 1 ? 's' : ''}:`)),
            h('ul', { id: 'spec-errors', class: 'errors' }, e.body.errors.map((i) => h('li', { 'data-path': i.path }, h('code', {}, i.path || '(spec)'), ': ', i.message))),
          );
        } else errors.replaceChildren(h('p', { id: 'spec-errors', class: 'errors' }, e instanceof ApiError ? e.message : String(e)));
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  app.replaceChildren(
    h('h1', {}, 'New search'),
    h('p', { class: 'muted' }, 'The spec is checked on the server; every problem is listed by field. A valid spec starts a search in the background.'),
    text,
    h('p', {}, button),
    errors,
  );
}

