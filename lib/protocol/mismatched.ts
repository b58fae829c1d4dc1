/**
 * Peers whose passphrase is known to differ from ours. A handshake that failed on a wrong tag (or
 * a share that is no point) proves that the process at that epoch holds another passphrase, and a
 * running process's passphrase never changes: every further try with it fails again, and each
 * failure costs a free try on both sides (AUTH_BACKOFF). So we neither open toward nor answer that
 * epoch for MISMATCH_HOLD, and the user who corrects either side (a new process, a new epoch) is
 * answered at once instead of after a minute of backoff. Pure: time comes in as `now`.
 */
import { MISMATCH_HOLD, RETIRED_EPOCHS } from "./constants.ts";

export class MismatchedPeers {
  /** Epoch -> until when it is not tried. Insertion order is age; the oldest goes past
   * RETIRED_EPOCHS, so forged failures from ever new epochs cannot grow it. */
  #until = new Map<number, number>();

  /** A handshake with `epoch` failed on its tag: its passphrase differs. */
  add(epoch: number, now: number): void {
    this.#until.delete(epoch);
    this.#until.set(epoch, now + MISMATCH_HOLD);
    if (this.#until.size > RETIRED_EPOCHS) this.#until.delete(this.#until.keys().next().value!);
  }

  has(epoch: number | undefined, now: number): boolean {
    if (epoch === undefined) return false;
    const until = this.#until.get(epoch);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#until.delete(epoch);
    return false;
  }
}
