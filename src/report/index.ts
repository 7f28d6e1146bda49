/** Result tables, figures, exports and notebook display: what every experiment notebook calls. */
export * from "./table";
export * from "./figure";
export * from "./browser";
export * from "./notebook";
export * from "./report";
export * from "./notebook-params";
