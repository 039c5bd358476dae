export declare const HUB_NODE_FLAGS: string[];
