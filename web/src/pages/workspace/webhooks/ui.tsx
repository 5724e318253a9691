import { Badge } from '@mantine/core';
import { formatRate, rateColor } from '../../../lib/webhooks';

/** A success rate as a badge in its band's colour. */
export const RateBadge = ({ rate }: { rate: number | null | undefined }) => (
  <Badge color={rateColor(rate)} variant={rate === null || rate === undefined ? 'outline' : 'filled'}>{formatRate(rate)}</Badge>
);
