/** Problems found in some input, each at a path (zod's issues, or the settings checks' own). */
export interface Issue {
  path: readonly PropertyKey[];
  message: string;
}

/** One line for an error message: `path: message; path: message`. */
export const describeIssues = (issues: readonly Issue[]): string => issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');
