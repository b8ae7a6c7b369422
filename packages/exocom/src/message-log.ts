/**
 * The console line of one delivered message, in the original ExoCom's style:
 * `web  --[ users.create ]->  users`, and when the receiver knows the message under another
 * name, `web  --[ tweets.create ]-[ text-snippets.create ]->  tweets`.
 */
export function formatMessageLine(
  sender: string,
  publicName: string,
  internalName: string,
  receiver: string,
): string {
  const names =
    internalName === publicName ? `[ ${publicName} ]` : `[ ${publicName} ]-[ ${internalName} ]`
  return `${sender}  --${names}->  ${receiver}`
}
