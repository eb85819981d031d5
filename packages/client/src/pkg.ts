/** The package name, as InvalidOptionError and parseOptions take it. Defined once for the whole package. */
export const PKG = '@cache/client'
/** The prefix of every @cache/client error message: `[@cache/client]`. */
export const TAG = `[${PKG}]`
