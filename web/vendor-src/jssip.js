// Entry point for the JsSIP bundle: the IIFE exposes the library as window.JsSIP (see package.json "bundle").
module.exports = require('jssip');
