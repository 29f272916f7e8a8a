/**
 * An error in what the caller asked for (an unknown name, a bad option), not in the data or the
 * machine: the CLI prints the command's usage with it and exits 2; an action fails the step.
 */
export class UsageError extends Error {}
