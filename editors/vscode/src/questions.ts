// Permission questions (window/showMessageRequest): shown as a notification
// with the choices; "More…" opens a quick pick with the rest. The answer is
// {title} of the choice, or null when dismissed or withdrawn by the server
// ($/cancelRequest: every call waiting on it was cancelled).
import { MORE, questionView } from './logic';

export interface QuestionUi {
  // A notification with buttons; resolves to the clicked title (undefined: dismissed).
  notify(text: string, buttons: string[]): PromiseLike<string | undefined>;
  // A list to pick from (undefined: dismissed).
  pick(titles: string[], placeHolder: string): PromiseLike<string | undefined>;
}

export interface Cancellation {
  isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export interface ShowMessageRequestParams {
  type?: number;
  message: string;
  actions?: { title: string }[];
}

export async function answerQuestion(
  params: ShowMessageRequestParams,
  ui: QuestionUi,
  token?: Cancellation,
): Promise<{ title: string } | null> {
  const actions = params.actions ?? [];
  const view = questionView(params.message ?? '', actions);
  let cancelled: (() => void) | undefined;
  const withdrawn = new Promise<undefined>((resolve) => {
    cancelled = () => resolve(undefined);
  });
  const sub = token?.onCancellationRequested(() => cancelled?.());
  try {
    if (token?.isCancellationRequested) return null;
    let choice = await Promise.race([ui.notify(view.text, view.buttons), withdrawn]);
    if (choice === MORE) {
      choice = await Promise.race([ui.pick(actions.map((a) => a.title), view.text), withdrawn]);
    }
    if (token?.isCancellationRequested || choice === undefined) return null;
    return actions.some((a) => a.title === choice) ? { title: choice } : null;
  } finally {
    sub?.dispose();
  }
}
