// Chart preferences that follow the person from run to run (and across reloads): the smoothing
// weight of the loss curves. Kept in localStorage; a module singleton like `theme`.

const key = 'reft-studio.chart-smoothing';

export class ChartPrefs {
  #smoothing = $state(0.6);

  constructor() {
    try {
      const v = Number(localStorage.getItem(key));
      if (localStorage.getItem(key) !== null && v >= 0 && v < 1) this.#smoothing = v;
    } catch {
      // storage unavailable: the default is fine
    }
  }

  /** EMA weight in [0, 0.99]: 0 shows the raw curve. */
  get smoothing(): number {
    return this.#smoothing;
  }

  set smoothing(v: number) {
    this.#smoothing = Math.min(Math.max(v, 0), 0.99);
    try {
      localStorage.setItem(key, String(this.#smoothing));
    } catch {
      // ignore
    }
  }
}

export const chartPrefs = new ChartPrefs();
