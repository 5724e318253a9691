/**
 * Mantine's orange.9 (#d9480f) is 4.3:1 on white, under WCAG AA's 4.5:1 for small text; this
 * darker orange (5.5:1 on white, 5.2:1 on a striped row) keeps "warning" apart from red and readable.
 */
export const WARNING_COLOR = '#b04a00';
