/**
 * ONVIF motion notifications as cameras send them in PullMessages answers, written after the ONVIF Event
 * specification and the variants seen in the wild (the recorded fixture has only IsMotion=true).
 */

export type MotionVariant =
  /** tns1:RuleEngine/CellMotionDetector/Motion with data item IsMotion (most cameras). */
  | "cell-ismotion"
  /** The same topic with data item Name="Value" (Pelco). */
  | "cell-value"
  /** tns1:VideoSource/MotionAlarm with data item State. */
  | "motion-alarm";

export interface NotificationSpec {
  variant: MotionVariant;
  motion: boolean;
  /** Initialized: the current state sent right after subscribing; Changed: a change. Absent: no attribute. */
  operation?: "Initialized" | "Changed";
  utcTime?: Date;
}

const TOPICS: Record<MotionVariant, { topic: string; item: string; source: string }> = {
  "cell-ismotion": {
    topic: "tns1:RuleEngine/CellMotionDetector/Motion",
    item: "IsMotion",
    source:
      '<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="000"/><tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="000"/><tt:SimpleItem Name="Rule" Value="000"/>',
  },
  "cell-value": {
    topic: "tns1:RuleEngine/CellMotionDetector/Motion",
    item: "Value",
    source: '<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="1"/><tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/>',
  },
  "motion-alarm": { topic: "tns1:VideoSource/MotionAlarm", item: "State", source: '<tt:SimpleItem Name="Source" Value="000"/>' },
};

/** One wsnt:NotificationMessage element, in the namespaces of the fixtures' PullMessages envelope. */
export function notificationXml(spec: NotificationSpec, subscriptionUrl: string): string {
  const t = TOPICS[spec.variant];
  const op = spec.operation ? ` PropertyOperation="${spec.operation}"` : "";
  return `
            <wsnt:NotificationMessage>
                <wsnt:SubscriptionReference>
                    <wsa5:Address>${subscriptionUrl}</wsa5:Address>
                </wsnt:SubscriptionReference>
                <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${t.topic}</wsnt:Topic>
                <wsnt:Message>
                    <tt:Message UtcTime="${(spec.utcTime ?? new Date()).toISOString()}"${op}>
                        <tt:Source>${t.source}</tt:Source>
                        <tt:Data>
                            <tt:SimpleItem Name="${t.item}" Value="${spec.motion ? "true" : "false"}"/>
                        </tt:Data>
                    </tt:Message>
                </wsnt:Message>
            </wsnt:NotificationMessage>`;
}
