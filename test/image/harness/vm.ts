/*
 * test/image/harness/vm.ts — boots an appliance image under qemu for the image smoke test and
 * gives the test its serial console.
 *
 * The VM runs with `-snapshot` (the image file is never changed), TCG unless told otherwise
 * (CI has no KVM), user-mode networking with the SMTP port forwarded to 127.0.0.1 only, and the
 * first serial port on a unix socket that this process reads and writes (also logged to a file).
 * From inside the VM the host's loopback services are reachable as 10.0.2.2 (slirp).
 * Serial text is kept with ANSI escapes removed, so the console menu's prompts can be awaited
 * with plain strings. Runs in the test process; qemu is its own process group, stopped in teardown.
 */
import { connect, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnService, sleep, waitFor, type Cleanup, type Spawned } from '../../e2e/harness/index.js';

export type Arch = 'amd64' | 'arm64';

export interface VmOptions {
  arch: Arch;
  image: string;
  /** Guest port 25 appears on 127.0.0.1:smtpPort. */
  smtpPort: number;
  /** Guest port 22 appears on 127.0.0.1:sshPort (sshd is off until the menu turns it on). */
  sshPort?: number;
  /** Directory for the serial socket and log. */
  dir: string;
  /** 'bios' (SeaBIOS, amd64 only) or 'uefi' (OVMF / AAVMF). Default: bios on amd64. */
  firmware?: 'bios' | 'uefi';
  accel?: 'tcg' | 'kvm';
  memoryMiB?: number;
}

// Strip CSI / OSC sequences and the other control bytes the console and systemd print.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78cM]|[\x00-\x08\x0b\x0e-\x1f\x7f]/g;

export class Vm {
  readonly qemu: Spawned;
  readonly serialLog: string;
  #socket: Socket | undefined;
  #text = '';

  private constructor(qemu: Spawned, serialLog: string) {
    this.qemu = qemu;
    this.serialLog = serialLog;
  }

  static async boot(t: Cleanup, o: VmOptions): Promise<Vm> {
    const sock = join(o.dir, 'serial.sock');
    const log = join(o.dir, 'serial.log');
    const firmware = o.firmware ?? (o.arch === 'amd64' ? 'bios' : 'uefi');
    const args: string[] = [];
    if (o.arch === 'amd64') {
      args.push('qemu-system-x86_64', '-M', 'q35', '-cpu', 'qemu64');
      if (firmware === 'uefi') args.push('-bios', '/usr/share/ovmf/OVMF.fd');
    } else {
      args.push('qemu-system-aarch64', '-M', 'virt', '-cpu', 'cortex-a57', '-bios', '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd');
    }
    args.push(
      '-accel', o.accel ?? 'tcg',
      '-m', String(o.memoryMiB ?? 2048), '-smp', '2',
      '-snapshot',
      '-drive', `file=${o.image},if=virtio,format=${o.image.endsWith('.raw') ? 'raw' : 'qcow2'}`,
      '-nic', `user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:${o.smtpPort}-:25${o.sshPort ? `,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22` : ''}`,
      '-chardev', `socket,id=ser0,path=${sock},server=on,wait=off,logfile=${log}`,
      '-serial', 'chardev:ser0',
      '-display', 'none', '-no-reboot',
    );
    // nice: the build machines are shared.
    const qemu = spawnService(t, 'nice', ['-n', '10', ...args]);
    const vm = new Vm(qemu, log);
    await waitFor(() => existsSync(sock) || qemu.hasExited(), { timeoutMs: 30_000, what: 'the serial socket' });
    if (qemu.hasExited()) throw new Error(`qemu exited: ${qemu.output()}`);
    vm.#socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(sock, () => resolve(s));
      s.once('error', reject);
    });
    vm.#socket.on('data', (b: Buffer) => {
      vm.#text += b.toString('latin1').replace(/\r/g, '').replace(ANSI, '');
      if (vm.#text.length > 2_000_000) vm.#text = vm.#text.slice(-1_000_000);
    });
    vm.#socket.on('error', () => { /* qemu went away; waits time out with the log */ });
    return vm;
  }

  /** Serial text so far (ANSI removed). */
  text(): string { return this.#text; }
  /** A mark to wait for output that comes after it. */
  mark(): number { return this.#text.length; }

  /** Waits until `what` appears in the serial text after `from`; returns the text from `from`. */
  async expect(what: string | RegExp, opts: { from?: number; timeoutMs?: number } = {}): Promise<string> {
    const from = opts.from ?? 0;
    return waitFor(() => {
      if (this.qemu.hasExited()) throw new Error('qemu has exited');
      const tail = this.#text.slice(from);
      return (typeof what === 'string' ? tail.includes(what) : what.test(tail)) ? tail : undefined;
    }, { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 200, what: `serial output ${String(what)}`, detail: () => `last serial output:\n${this.#text.slice(-1500)}` });
  }

  /** Types a line on the serial console (Enter = CR, as a terminal sends it). */
  async type(line: string): Promise<void> {
    // A serial line at 115200 baud and a guest under TCG: type at a human pace.
    for (const ch of `${line}\r`) {
      this.#socket?.write(ch);
      await sleep(15);
    }
  }

  /** Waits for `prompt` (after `from`), then types `answer`; returns the mark after typing. */
  async answer(prompt: string | RegExp, answer: string, opts: { from?: number; timeoutMs?: number } = {}): Promise<number> {
    await this.expect(prompt, opts);
    const m = this.mark();
    await this.type(answer);
    return m;
  }

  async stop(): Promise<void> {
    this.#socket?.destroy();
    await this.qemu.stop(5000);
  }
}
