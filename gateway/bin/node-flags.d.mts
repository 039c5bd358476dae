export declare const GATEWAY_NODE_FLAGS: string[];
export declare const GATEWAY_ENV: Record<string, string>;
