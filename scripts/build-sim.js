'use strict'
// Builds the Salesforce simulator binary (tests, demo and benchmarks start it).
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const release = process.argv.includes('--release')
const args = ['build', '-p', 'forcelink-sim', '--bin', 'forcelink-sim']
if (release) args.push('--release')
execFileSync('cargo', args, { stdio: 'inherit', cwd: path.join(__dirname, '..') })
