/*
 * test/e2e/harness/mime.ts — test messages with attachments, and zip files made by a real tool.
 *
 * `zipFiles({ 'a.txt': data })` runs python3's zipfile (deflated members) and returns the archive;
 * nest zips by passing a zip as a member. `messageWithAttachment({ filename, content })` is a
 * multipart/mixed message with the attachment base64-encoded (76-column lines), ready for DATA.
 */
import { execFileSync } from 'node:child_process';

const ZIP_SCRIPT = `
import io, json, sys, zipfile, base64
files = json.load(sys.stdin)
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
    for name, b64 in files.items():
        z.writestr(name, base64.b64decode(b64))
sys.stdout.write(base64.b64encode(buf.getvalue()).decode())
`;

/** A zip archive of the given members, made with python3 zipfile. */
export function zipFiles(files: Record<string, Buffer | string>): Buffer {
  const input = JSON.stringify(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')])));
  const out = execFileSync('python3', ['-c', ZIP_SCRIPT], { input, maxBuffer: 64 * 1024 * 1024 });
  return Buffer.from(out.toString(), 'base64');
}

export function messageWithAttachment(opts: { from?: string; to?: string; subject?: string; messageId?: string; filename: string; content: Buffer | string; contentType?: string }): string {
  const boundary = `=_tuxhat_${Math.random().toString(36).slice(2)}`;
  const b64 = Buffer.from(opts.content).toString('base64').replace(/.{76}/g, '$&\r\n').replace(/\r\n$/, '');
  return [
    `From: ${opts.from ?? 'sender@client.test'}`,
    `To: ${opts.to ?? 'user@corp.test'}`,
    `Subject: ${opts.subject ?? 'attachment'}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${opts.messageId ?? `<${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}@client.test>`}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Please see the attachment.',
    '',
    `--${boundary}`,
    `Content-Type: ${opts.contentType ?? 'application/octet-stream'}; name="${opts.filename}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${opts.filename}"`,
    '',
    b64,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
