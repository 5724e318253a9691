import { Anchor, Badge, Group, Paper, Progress, Stack, Text, ThemeIcon } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { client, unwrap } from '../../api';
import { firstOpen, nextAction, tabLink } from '../../lib/onboarding';
import { Loaded } from '../common';
import { queryKeys } from '../../lib/query-keys';

/** The checklist the API derives from what exists, with the next thing to do and where. */
export function OnboardingTab({ workspaceId }: { workspaceId: string }) {
  const checklist = useQuery({
    queryKey: queryKeys.onboarding(workspaceId),
    queryFn: () => unwrap(client.GET('/v1/workspaces/{id}/onboarding', { params: { path: { id: workspaceId } } })),
  });
  return (
    <Loaded query={checklist} empty={(d) => d.steps.length === 0}>
      {(d) => {
        const next = firstOpen(d.steps);
        return (
          <Stack>
            <Group justify="space-between">
              <Text fw={600}>{d.completed} of {d.total} steps done</Text>
              {next ? <Text size="sm" c="gray.8">Next: {next.label}</Text> : <Badge color="teal.9">Onboarding complete</Badge>}
            </Group>
            <Progress value={(100 * d.completed) / Math.max(d.total, 1)} color="teal.9" aria-label={`${d.completed} of ${d.total} steps done`} />
            <Stack component="ol" gap="sm" aria-label="Onboarding steps" p={0} m={0} style={{ listStyle: 'none' }}>
              {d.steps.map((step) => {
                const action = nextAction(step);
                return (
                  <li key={step.id}>
                    <Paper withBorder p="sm">
                      <Group wrap="nowrap" align="start">
                        <ThemeIcon color={step.done ? 'teal.9' : 'gray.8'} variant={step.done ? 'filled' : 'outline'} radius="xl" size="sm" aria-hidden>
                          {step.done ? '✓' : ''}
                        </ThemeIcon>
                        <Stack gap={2}>
                          <Group gap="xs">
                            <Text fw={600}>{step.label}</Text>
                            <Badge color={step.done ? 'teal.9' : 'gray.8'} variant="outline">{step.done ? 'done' : 'to do'}</Badge>
                          </Group>
                          <Text size="sm" c="gray.8">{step.detail}</Text>
                          {action && (
                            <Text size="sm">
                              {action.text}{' '}
                              <Anchor component={Link} to={tabLink(workspaceId, action.tab)}>Open {action.tabLabel}</Anchor>
                            </Text>
                          )}
                        </Stack>
                      </Group>
                    </Paper>
                  </li>
                );
              })}
            </Stack>
          </Stack>
        );
      }}
    </Loaded>
  );
}
