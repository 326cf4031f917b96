import { EVENT_KINDS, type HookEventName } from '../shared/hooks';

/** The facts a chat message shows. */
export interface MessageFacts {
  event: HookEventName;
  stack: string; // org/project/stack
  operation?: string;
  status?: string;
  link?: string;
}

const headline = (f: MessageFacts): string => {
  const what = f.event.replace(/_/g, ' ');
  return `${f.stack}: ${what}${f.operation && !f.event.startsWith(f.operation) ? ` (${f.operation})` : ''}`;
};

/** A Slack incoming-webhook message: one line of text, linked. */
export function slackMessage(f: MessageFacts): object {
  const text = f.link ? `<${f.link}|${headline(f)}>` : headline(f);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${text}*` } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: [`kind: ${EVENT_KINDS[f.event]}`, f.operation && `operation: ${f.operation}`, f.status && `status: ${f.status}`].filter(Boolean).join(' · ') }],
      },
    ],
  };
}

/** A Microsoft Teams (workflow webhook) message: an Adaptive Card with the facts and a link. */
export function teamsMessage(f: MessageFacts): object {
  const facts = [
    { title: 'Stack', value: f.stack },
    ...(f.operation ? [{ title: 'Operation', value: f.operation }] : []),
    ...(f.status ? [{ title: 'Status', value: f.status }] : []),
  ];
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: headline(f), weight: 'Bolder', wrap: true },
            { type: 'FactSet', facts },
          ],
          ...(f.link ? { actions: [{ type: 'Action.OpenUrl', title: 'Open', url: f.link }] } : {}),
        },
      },
    ],
  };
}
