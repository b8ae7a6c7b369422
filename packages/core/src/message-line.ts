// The bus writes this line per delivery; `exorelay tail` prints the same shape from the event stream.
/**
 * The console line of one delivered message, in the original ExoCom's style:
 * `web  --[ users.create ]->  users`. When the receiver knows the message under another
 * name, the public name comes first, then the receiver's:
 * `web  --[ tweets.create ]-[ text-snippets.create ]->  tweets`. When the sender sent it
 * under another name, the sender's name comes first, then the public one:
 * `tweets  --[ text-snippets.created ]-[ tweets.created ]->  web`. Both shapes are the
 * original's; a message translated on both sides (which the original never showed) reads
 * `[ sent ]-[ public ]-[ received ]`.
 */
export function formatMessageLine(
  sender: string,
  publicName: string,
  internalName: string,
  receiver: string,
  sentName: string = publicName,
): string {
  let names = `[ ${publicName} ]`
  if (sentName !== publicName) names = `[ ${sentName} ]-${names}`
  if (internalName !== publicName) names = `${names}-[ ${internalName} ]`
  return `${sender}  --${names}->  ${receiver}`
}
