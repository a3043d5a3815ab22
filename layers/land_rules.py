"""Documented rules that turn a land unit's agency and designation into its mineral-entry
status (``open``, ``restricted``, ``closed``, ``unknown``, or ``non_federal`` for state
land), each with the general law or order behind it.

These are general rules of federal mining law, good for screening and never for a legal
land-status call: specific withdrawals, valid existing rights and recent designations are
not in the data. ``docs/data.md`` repeats this table with its reasons.
"""

from __future__ import annotations

#: The status of land a layer maps as not federal (Alaska state parks and refuges).
NON_FEDERAL = "non_federal"

#: designation -> (mineral_entry, reason: the general law or order behind the rule)
DESIGNATION_RULES: dict[str, tuple[str, str]] = {
    "wilderness": (
        "closed",
        "designated wilderness: withdrawn from location since 1 January 1984, subject to "
        "valid existing rights (Wilderness Act 1964, section 4(d)(3))",
    ),
    "national_park": (
        "closed",
        "national park: closed to location by its establishing act, the Mining in the Parks "
        "Act 1976 and, in Alaska, ANILCA 1980 section 206",
    ),
    "national_preserve": (
        "closed",
        "national preserve: NPS unit withdrawn from location (ANILCA 1980 section 206 in "
        "Alaska; establishing acts elsewhere), subject to valid existing rights",
    ),
    "nps_unit": (
        "closed",
        "National Park Service unit: withdrawn from location by its establishing act "
        "(Mining in the Parks Act 1976; ANILCA 1980 section 206 in Alaska)",
    ),
    "national_seashore": ("closed", "NPS unit (Mining in the Parks Act 1976)"),
    "national_lakeshore": ("closed", "NPS unit (Mining in the Parks Act 1976)"),
    "national_river": ("closed", "NPS unit (Mining in the Parks Act 1976)"),
    "national_monument": (
        "closed",
        "national monument: withdrawn from location by its proclamation (Antiquities Act "
        "1906) or act, subject to valid existing rights",
    ),
    "national_conservation_area": (
        "closed",
        "national conservation area: withdrawn from location by its designating act "
        "(typical; check the unit's act)",
    ),
    "national_wildlife_refuge": (
        "closed",
        "national wildlife refuge: refuge lands are withdrawn from location and mining is "
        "not a compatible use (refuge withdrawals; 50 CFR 27.64)",
    ),
    "anilca_wildlife_refuge": (
        "closed",
        "Alaska national wildlife refuge: withdrawn from location under the mining laws, "
        "subject to valid existing rights (ANILCA 1980 section 304(c))",
    ),
    "national_petroleum_reserve": (
        "closed",
        "National Petroleum Reserve-Alaska: withdrawn from all entry under the public land "
        "laws including the mining laws; oil and gas by lease only (Naval Petroleum "
        "Reserves Production Act 1976, section 102)",
    ),
    "military_reservation": (
        "closed",
        "military reservation: withdrawn for military use (Engle Act 1958)",
    ),
    "indian_trust_land": (
        "closed",
        "Indian trust land: not public domain; the Mining Law does not apply",
    ),
    "acquired_land": (
        "closed",
        "acquired land (national grassland, land utilization project): the Mining Law does "
        "not apply; hardrock minerals only by lease (Mineral Leasing Act for Acquired Lands "
        "1947)",
    ),
    "national_recreation_area": (
        "restricted",
        "national recreation area: entry depends on the unit's act",
    ),
    "wilderness_study_area": (
        "restricted",
        "wilderness study area: open to location, but managed so as not to impair "
        "wilderness suitability (FLPMA 1976 section 603(c); 43 CFR 3802)",
    ),
    "area_of_critical_environmental_concern": (
        "restricted",
        "ACEC: not withdrawn by designation (FLPMA 1976 section 202(c)(3)); open to "
        "location unless separately withdrawn, but any work beyond casual use needs a plan "
        "of operations (43 CFR 3809.11(c)(3)); some ACECs are withdrawn: check the plan",
    ),
    "research_natural_area": (
        "restricted",
        "research natural area: managed for research and often withdrawn or recommended "
        "for withdrawal; entry at most under a plan of operations",
    ),
    "wild_and_scenic_river": (
        "restricted",
        "wild and scenic river: land within a quarter mile of a 'wild' segment is withdrawn "
        "from location; scenic and recreational segments stay open under regulation (Wild "
        "and Scenic Rivers Act 1968, section 9(a)); the classification is not in the data",
    ),
    "reclamation_project": ("restricted", "Reclamation withdrawals; entry only where opened"),
    "national_forest": (
        "open",
        "national forest reserved from the public domain: open to location unless "
        "specifically withdrawn (Organic Administration Act 1897, 16 U.S.C. 482)",
    ),
    "blm_public_land": (
        "open",
        "BLM public domain: open to location unless withdrawn (General Mining Law 1872, "
        "30 U.S.C. 22)",
    ),
    "blm_public_land_unscreened": (
        "unknown",
        "BLM public domain, open to location unless withdrawn; but BLM's national "
        "monuments and national conservation areas, withdrawn by proclamation or act, are "
        "not mapped in this state in the data, so whether this land is open is unknown",
    ),
    "special_recreation_management_area": (
        "open",
        "BLM special recreation management area: a planning designation, not a withdrawal",
    ),
    "other_federal": ("unknown", "no general rule for this agency or designation"),
    "state_management_area": (
        "unknown",
        "a state management area that may lie over federal land (the Dalton Highway "
        "Corridor is largely BLM land): the owner is not in the data",
    ),
    "state_land": (
        NON_FEDERAL,
        "state land: not federal, so the federal Mining Law does not apply (Alaska state "
        "land has its own mining-claim law, AS 38.05)",
    ),
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
    ("national historical park", "nps_unit"),
    ("national preserve", "national_preserve"),
    ("national recreation area", "national_recreation_area"),
    ("recreation area", "national_recreation_area"),
    ("national seashore", "national_seashore"),
    ("national lakeshore", "national_lakeshore"),
    ("national river", "national_river"),
    ("wildlife refuge", "national_wildlife_refuge"),
    ("national forest", "national_forest"),
    ("national grassland", "acquired_land"),
    ("land utilization project", "acquired_land"),
    ("area of critical environmental concern", "area_of_critical_environmental_concern"),
    ("srma", "special_recreation_management_area"),
)

#: Designation of a unit whose name or type names none, by agency (else other_federal).
AGENCY_DEFAULT_DESIGNATION: dict[str, str] = {"NPS": "nps_unit"}

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

#: CEC North American Protected Areas 2010, Alaska: ``area_type`` -> (agency, designation).
#: The agency comes from the area type, not the id prefix: the CEC lists some FWS refuges
#: (Bogoslof Island, Chamisso Island...) under AKDNR ids with a refuge area type.
CEC_ALASKA_AREA_TYPES: dict[str, tuple[str, str]] = {
    "National Park (NPS)": ("NPS", "national_park"),
    "National Preserve (NPS)": ("NPS", "national_preserve"),
    "National Monument (NPS)": ("NPS", "national_monument"),
    "National Historical Park (NPS)": ("NPS", "nps_unit"),
    "National River & Wild & Scenic Riverway (NPS)": ("NPS", "nps_unit"),
    "National Wildlife Refuge (FWS)": ("FWS", "anilca_wildlife_refuge"),
    "National Forest (USFS)": ("USFS", "national_forest"),
    "Backcountry Prescription (USFS)": ("USFS", "national_forest"),
    "National Monument (USFS)": ("USFS", "national_monument"),
    "Research Natural Area (USFS)": ("USFS", "research_natural_area"),
    "Area of Critical Environmental Concern (BLM)": (
        "BLM",
        "area_of_critical_environmental_concern",
    ),
    "Research Natural Area (BLM)": ("BLM", "research_natural_area"),
    "Wild, Scenic & Recreation River (BLM)": ("BLM", "wild_and_scenic_river"),
    "National Conservation Area (BLM)": ("BLM", "national_conservation_area"),
    "National Recreation Area (BLM)": ("BLM", "national_recreation_area"),
    "National Petroleum Reserve": ("BLM", "national_petroleum_reserve"),
    "Military Reservation (DOD)": ("DOD", "military_reservation"),
    "State Restricted Area": ("state", "state_management_area"),
}
#: Every other CEC Alaska area type starting with this word is state land.
CEC_STATE_PREFIX = "State"


def designation_from_text(text: str, default: str = "other_federal") -> str:
    lowered = text.lower()
    for phrase, designation in DESIGNATION_PHRASES:
        if phrase in lowered:
            return designation
    return default


def cec_alaska(area_type: str) -> tuple[str, str]:
    """(agency, designation) of a CEC Alaska area type; unknown types are other_federal."""
    if area_type in CEC_ALASKA_AREA_TYPES:
        return CEC_ALASKA_AREA_TYPES[area_type]
    if area_type.startswith(CEC_STATE_PREFIX) or area_type.startswith("Special State"):
        return ("state", "state_land")
    return ("other", "other_federal")


#: How a designation reads where a unit has no name (the coarse layer's polygons); the
#: rest read as their words ("blm_public_land" -> "blm public land").
DESIGNATION_LABELS: dict[str, str] = {
    "blm_public_land_unscreened": "public land, monuments not mapped here",
}


def designation_label(designation: str | None) -> str:
    if not designation:
        return "federal land"
    return DESIGNATION_LABELS.get(designation, designation.replace("_", " "))


def mineral_entry(designation: str) -> str:
    return DESIGNATION_RULES.get(designation, ("unknown", ""))[0]


def rule_reason(designation: str | None) -> str:
    """The law or order behind a designation's status (empty for an unknown one)."""
    return DESIGNATION_RULES.get(designation or "", ("unknown", ""))[1]


def canonical_agency(value: str | None) -> str:
    if not value:
        return "other"
    return AGENCY_ALIASES.get(value.strip().upper(), "other")
