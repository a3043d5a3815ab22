"""Documented rules that turn a land unit's agency and designation into its mineral-entry
status (``open``, ``restricted``, ``closed``, ``unknown``).

These are general rules of federal mining law, good for screening and never for a legal
land-status call: specific withdrawals, valid existing rights and recent designations are
not in the data. ``docs/data.md`` repeats this table with its reasons.
"""

from __future__ import annotations

#: designation -> (mineral_entry, reason)
DESIGNATION_RULES: dict[str, tuple[str, str]] = {
    "wilderness": ("closed", "withdrawn from location since 1984 (Wilderness Act, 1964)"),
    "national_park": ("closed", "NPS units closed to location (Mining in the Parks Act, 1976)"),
    "national_preserve": ("closed", "NPS unit (Mining in the Parks Act, 1976)"),
    "nps_unit": ("closed", "NPS unit (Mining in the Parks Act, 1976)"),
    "national_seashore": ("closed", "NPS unit (Mining in the Parks Act, 1976)"),
    "national_lakeshore": ("closed", "NPS unit (Mining in the Parks Act, 1976)"),
    "national_river": ("closed", "NPS unit (Mining in the Parks Act, 1976)"),
    "national_monument": ("closed", "withdrawn by its proclamation or act"),
    "national_conservation_area": ("closed", "withdrawn by its designating act (typical)"),
    "national_wildlife_refuge": ("closed", "refuges are closed to location"),
    "military_reservation": ("closed", "withdrawn for military use"),
    "indian_trust_land": ("closed", "not public domain; the Mining Law does not apply"),
    "national_recreation_area": ("restricted", "entry depends on the unit's act"),
    "wilderness_study_area": ("restricted", "managed for non-impairment (FLPMA 603)"),
    "reclamation_project": ("restricted", "Reclamation withdrawals; entry only where opened"),
    "national_forest": ("open", "open to location unless specifically withdrawn"),
    "blm_public_land": ("open", "public domain open to location unless withdrawn"),
    "other_federal": ("unknown", "no general rule for this agency"),
}

#: Agency codes of the coarse federal-lands layer -> (agency, designation).
COARSE_AGENCY: dict[str, tuple[str, str]] = {
    "BLM": ("BLM", "blm_public_land"),
    "FS": ("USFS", "national_forest"),
    "NPS": ("NPS", "nps_unit"),
    "FWS": ("FWS", "national_wildlife_refuge"),
    "BOR": ("BOR", "reclamation_project"),
    "DOD": ("DOD", "military_reservation"),
    "BIA": ("other", "indian_trust_land"),
}

#: Phrases in unit names or types -> designation, checked in order (first match wins).
DESIGNATION_PHRASES: tuple[tuple[str, str], ...] = (
    ("wilderness study area", "wilderness_study_area"),
    ("wilderness", "wilderness"),
    ("national conservation area", "national_conservation_area"),
    ("national monument", "national_monument"),
    ("national park", "national_park"),
    ("national preserve", "national_preserve"),
    ("national recreation area", "national_recreation_area"),
    ("recreation area", "national_recreation_area"),
    ("national seashore", "national_seashore"),
    ("national lakeshore", "national_lakeshore"),
    ("national river", "national_river"),
    ("wildlife refuge", "national_wildlife_refuge"),
    ("national forest", "national_forest"),
)

#: Agency spellings found in the sources -> canonical agency.
AGENCY_ALIASES: dict[str, str] = {
    "BLM": "BLM",
    "U.S. BUREAU OF LAND MANAGEMENT": "BLM",
    "FS": "USFS",
    "USFS": "USFS",
    "NPS": "NPS",
    "FWS": "FWS",
    "USFWS": "FWS",
    "BOR": "BOR",
    "DOD": "DOD",
}


def designation_from_text(text: str, default: str = "other_federal") -> str:
    lowered = text.lower()
    for phrase, designation in DESIGNATION_PHRASES:
        if phrase in lowered:
            return designation
    return default


def mineral_entry(designation: str) -> str:
    return DESIGNATION_RULES.get(designation, ("unknown", ""))[0]


def canonical_agency(value: str | None) -> str:
    if not value:
        return "other"
    return AGENCY_ALIASES.get(value.strip().upper(), "other")
