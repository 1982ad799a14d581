/** One operator action against the API (a create, a revoke, a run): busy while it runs, the problem detail when it fails. */
import { useState } from 'preact/hooks';
import { errorText } from './api.js';

export interface Action<A extends unknown[]> {
  readonly busy: boolean;
  readonly error: string | null;
  /** Runs the action; true when it succeeded (its error is then cleared). */
  run(...args: A): Promise<boolean>;
  clearError(): void;
}

export function useAction<A extends unknown[]>(act: (...args: A) => Promise<void>): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return {
    busy,
    error,
    clearError: () => setError(null),
    run: async (...args) => {
      setBusy(true);
      try {
        await act(...args);
        setError(null);
        return true;
      } catch (failure) {
        setError(errorText(failure));
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}
