import type { Page } from 'playwright-core';
import { Deadline } from './deadline';
import type { ActionError, ActionType, RenderActionDto } from '../renderer-rpc';
import { firstLine, RenderError } from './errors';

export const DEFAULT_ACTION_TIMEOUT_MS = 5000;
/** Pause between scroll steps so lazy-loaded content gets a chance to appear. */
export const DEFAULT_SCROLL_DELAY_MS = 100;

export interface ActionsOutcome {
  executed: ActionType[];
  error: ActionError | null;
}

/**
 * Runs `actions` in order. The first one that fails stops the rest and is reported, so
 * the caller still returns the page as it is. Running out of the render's own deadline is
 * not an action failure: that throws a `timeout` RenderError.
 */
export async function runActions(page: Page, actions: RenderActionDto[], deadline: Deadline): Promise<ActionsOutcome> {
  const executed: ActionType[] = [];
  for (const [index, action] of actions.entries()) {
    if (deadline.expired) throw capReached(action.type, index);
    try {
      await runAction(page, action, deadline.clamp(action.timeout_ms ?? DEFAULT_ACTION_TIMEOUT_MS));
    } catch (error) {
      if (deadline.expired) throw capReached(action.type, index);
      return { executed, error: { index, type: action.type, message: `${target(action)}: ${firstLine(errorMessage(error))}` } };
    }
    executed.push(action.type);
  }
  return { executed, error: null };
}

async function runAction(page: Page, action: RenderActionDto, timeout: number): Promise<void> {
  switch (action.type) {
    case 'wait_for_css':
      // Presence, not visibility: the selector is often a data container that is never painted.
      await page.waitForSelector(action.css, { state: 'attached', timeout });
      return;
    case 'wait_for_js':
      await page.waitForFunction(action.expr, undefined, { timeout });
      return;
    case 'scroll':
      await withTimeout(scrollPage(page, action.steps, action.step_px, action.delay_ms), timeout, action.type);
      return;
    case 'js':
      // Evaluated as a script in the page (statements allowed); a returned promise is awaited.
      await withTimeout(page.evaluate(action.code), timeout, action.type);
      return;
    case 'click':
      await page.locator(action.css).first().click({ timeout });
      return;
    case 'type':
      // Playwright's timeout only covers finding the element; typing a long text with a delay is bounded here.
      await withTimeout(
        page.locator(action.css).first().pressSequentially(action.text, { delay: action.delay_ms ?? 0, timeout }),
        timeout,
        action.type,
      );
      return;
  }
}

/** Scrolls down `steps` times by `stepPx` (default: one viewport), pausing between steps. */
export async function scrollPage(
  page: Page,
  steps: number,
  stepPx?: number,
  delayMs = DEFAULT_SCROLL_DELAY_MS,
): Promise<void> {
  await page.evaluate(
    async ({ steps, stepPx, delayMs }) => {
      for (let i = 0; i < steps; i++) {
        window.scrollBy(0, stepPx ?? window.innerHeight);
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    },
    { steps, stepPx, delayMs },
  );
}

/** What the action was aimed at, for its error message: the selector, expression or code. */
function target(action: RenderActionDto): string {
  const quoted = (text: string): string => JSON.stringify(text.length > 120 ? `${text.slice(0, 117)}...` : text);
  switch (action.type) {
    case 'wait_for_css':
    case 'click':
    case 'type':
      return `${action.type} ${quoted(action.css)}`;
    case 'wait_for_js':
      return `${action.type} ${quoted(action.expr)}`;
    case 'js':
      return `${action.type} ${quoted(action.code)}`;
    case 'scroll':
      return action.type;
  }
}

function capReached(type: ActionType, index: number): RenderError {
  return new RenderError('timeout', `render hard cap reached during action ${index} (${type})`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timeout ${ms}ms exceeded`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
