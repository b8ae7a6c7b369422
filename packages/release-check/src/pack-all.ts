// `npm run pack:all` at the root: packs every public package into one folder (default `.packs/`
// at the root), so that an app can install them from a clone before they are on npm:
// `npm install <clone>/.packs/*.tgz`, as the getting-started guide says.
import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { packPublicPackages } from './pack.js'
import { repositoryRoot } from './public-packages.js'

const destination = resolve(repositoryRoot, process.argv[2] ?? '.packs')
// Old tarballs of another version would be installed along with the new ones by `*.tgz`.
rmSync(destination, { recursive: true, force: true })
const tarballs = await packPublicPackages(destination)
for (const tarball of tarballs) process.stdout.write(`${tarball.file}\n`)
process.stdout.write(`\nInstall them together, in your app: npm install ${destination}/*.tgz\n`)
